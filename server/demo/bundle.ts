/** Builds browser bundles in memory (the demo page's at server start, test pages' in e2e); never written to the repo. */
import { build } from 'esbuild';

const ROOT = new URL('../../', import.meta.url).pathname;

/** Bundles a module for the browser: a file (`entry`) or inline source resolved from the project root. */
export async function bundleForBrowser(
  source: { entry: string } | { contents: string },
  minify = false,
): Promise<string> {
  const result = await build({
    ...('entry' in source
      ? { entryPoints: [source.entry] }
      : { stdin: { contents: source.contents, resolveDir: ROOT, loader: 'ts' as const } }),
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify,
    ...(minify ? { sourcemap: 'inline' as const } : {}),
  });
  return result.outputFiles[0]?.text ?? '';
}

export function buildDemoBundle(): Promise<string> {
  return bundleForBrowser({ entry: new URL('./page.ts', import.meta.url).pathname }, true);
}
