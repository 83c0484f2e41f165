/**
 * Subpath exports: every entry in package.json resolves, and the browser entries bundle without any server,
 * Node-only or WebSocket-server code (an app imports only what it uses). In this repository the
 * `switchyard-source` condition points each subpath at its TypeScript source (no build needed); the published
 * `types` / `import` targets are the same path under dist/ (test/package/ proves the packed tarball).
 */
import { existsSync, readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { expect, it } from 'vitest';

type Conditions = Record<string, string>;
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  exports: Record<string, Conditions | string>;
};
const subpaths = Object.entries(pkg.exports).filter(
  (entry): entry is [string, Conditions] => typeof entry[1] === 'object',
);

it('every subpath maps its source to the same path under dist/, with types and import', () => {
  expect(subpaths.length).toBeGreaterThan(10);
  for (const [subpath, conditions] of subpaths) {
    const source = conditions['switchyard-source'];
    expect(source, subpath).toMatch(/^\.\/.+\.ts$/);
    expect(existsSync(new URL(`../${source}`, import.meta.url)), `${subpath}: ${source}`).toBe(true);
    const built = `./dist/${source!.slice(2, -3)}`;
    // Conditions are matched in order: the source condition first, then types, then the JavaScript.
    expect(Object.keys(conditions).slice(0, 2), subpath).toEqual(['switchyard-source', 'types']);
    expect(conditions.types, subpath).toBe(`${built}.d.ts`);
    for (const [condition, target] of Object.entries(conditions)) {
      if (condition === 'switchyard-source' || condition === 'types') continue;
      expect(target, `${subpath} ${condition}`).toMatch(/^\.\/dist\/.+\.js$/);
    }
    expect(conditions.import, subpath).toBe(`${built}.js`);
  }
});

it('every subpath export points at a module that exists', async () => {
  for (const [subpath, conditions] of subpaths) {
    const module = await import(new URL(`../${conditions['switchyard-source']}`, import.meta.url).href);
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
    conditions: ['switchyard-source'],
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
