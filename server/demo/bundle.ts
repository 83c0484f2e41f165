/** Builds the demo page's browser bundle in memory at server start (build output is never committed). */
import { build } from 'esbuild';

export async function buildDemoBundle(): Promise<string> {
  const result = await build({
    entryPoints: [new URL('./page.ts', import.meta.url).pathname],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: 'inline',
  });
  return result.outputFiles[0]?.text ?? '';
}
