/**
 * Subpath exports: every entry in package.json resolves, and the browser entries bundle without any server,
 * Node-only or WebSocket-server code (an app imports only what it uses).
 */
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { expect, it } from 'vitest';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  exports: Record<string, string>;
};

it('every subpath export points at a module that exists', async () => {
  for (const [subpath, file] of Object.entries(pkg.exports)) {
    const module = await import(new URL(`../${file}`, import.meta.url).href);
    expect(Object.keys(module).length, subpath).toBeGreaterThan(0);
  }
});

it('the browser client bundles without server or Node-only code', async () => {
  const result = await build({
    stdin: {
      contents: `
        import { createClient } from 'switchyard/client';
        import { browserTransports } from 'switchyard/transports/browser';
        console.log(createClient, browserTransports);
      `,
      resolveDir: new URL('..', import.meta.url).pathname,
      loader: 'ts',
    },
    bundle: true,
    write: false,
    metafile: true,
    platform: 'browser',
    format: 'esm',
  });
  const inputs = Object.keys(result.metafile.inputs);
  expect(inputs.some((f) => f.startsWith('src/client/'))).toBe(true);
  for (const forbidden of [
    /^server\//,
    /node_modules\/(hono|ws|@hono|eventsource|@fails-components)\//,
    /\/node\.ts$/,
  ]) {
    expect(inputs.filter((f) => forbidden.test(f))).toEqual([]);
  }
});
