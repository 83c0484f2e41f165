// Bundles the page for browsers from the installed switchyard (its `browser`-safe entry points only).
import { build } from 'esbuild';

await build({
  entryPoints: ['app.ts'],
  outfile: 'dist/app.js',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: 'linked',
});
