/**
 * The published package, used the way a new user uses it: `npm pack` (which builds dist/ through prepack),
 * `npm install` of the tarball into a temporary project outside the repository (it cannot see the sources),
 * then, from that project's node_modules only:
 * - the tarball's contents (dist + the sources its maps point at; no tests, demo or scripts), publint, and
 *   @arethetypeswrong/cli;
 * - Node 20, plain JavaScript, no loader: server and client over WebSocket and SSE;
 * - TypeScript (strict, skipLibCheck off) against the published declarations;
 * - Deno through `npm:` specifiers: the server with HTTP/3 WebTransport, and a Deno client on every rung;
 * - a browser bundle built by esbuild from the installed package, with no Node built-in and no server code in
 *   it, run in Chromium and Firefox against that Deno server: default ladder (WebTransport) and each rung.
 * Timings are printed (install and run), never asserted.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { chromium, firefox } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../..', import.meta.url));
const consumerFiles = fileURLToPath(new URL('./consumer/', import.meta.url));
const bin = (name: string) => join(repo, 'node_modules/.bin', name);
const timings: Record<string, number> = {};

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await work();
  } finally {
    timings[label] = Date.now() - started;
  }
}

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else yield path;
  }
}

let work: string;
let project: string;
let tarball: string;
let installed: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'switchyard-package-'));
  project = join(work, 'app');
  // `npm pack` runs prepack (the build); its last output line is the tarball's file name.
  const packed = await timed('pack (build included)', () =>
    run('npm', ['pack', '--pack-destination', work], { cwd: repo, maxBuffer: 16 << 20 }),
  );
  tarball = join(work, packed.stdout.trim().split('\n').at(-1)!);
  await run('mkdir', ['-p', project]);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify(
      {
        name: 'switchyard-consumer',
        private: true,
        type: 'module',
        // What an app adds itself: Node's types, and Playwright for switchyard/playwright (a peer dependency).
        dependencies: {
          switchyard: `file:${tarball}`,
          '@types/node': '20.19.43',
          '@playwright/test': '1.64.1',
        },
      },
      null,
      2,
    ),
  );
  writeFileSync(join(project, 'deno.json'), JSON.stringify({ nodeModulesDir: 'manual' }));
  for (const file of readdirSync(consumerFiles)) copyFileSync(join(consumerFiles, file), join(project, file));
  await timed('npm install of the tarball', () =>
    run('npm', ['install', '--no-audit', '--no-fund'], { cwd: project, maxBuffer: 16 << 20 }),
  );
  installed = join(project, 'node_modules/switchyard');
}, 300_000);

afterAll(() => {
  console.log(
    `[package] tarball ${(statSync(tarball).size / 1024).toFixed(1)} KiB; times (ms): ${JSON.stringify(timings)}`,
  );
  rmSync(work, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('ships dist and the sources its maps point at, and nothing else', () => {
    const files = [...walk(installed)].map((f) => relative(installed, f));
    expect(files).toContain('dist/src/client/index.js');
    expect(files).toContain('dist/src/client/index.d.ts');
    expect(files).toContain('dist/src/client/index.js.map');
    for (const file of files) {
      expect(file, 'no tests, demo, scripts or entry scripts').not.toMatch(
        /\.test\.|\.deno\.ts$|^server\/demo\/|^server\/main\.ts$|^scripts\/|^test\/|^e2e\/(?!kit\/)|^docs\//,
      );
    }
    // Every shipped source is compiled in dist/, and every compiled module's source ships (for the maps).
    const sources = files.filter((f) => /\.ts$/.test(f) && !f.startsWith('dist/'));
    const compiled = files.filter((f) => f.startsWith('dist/') && f.endsWith('.js'));
    expect(sources.map((f) => `dist/${f.replace(/\.ts$/, '.js')}`).sort()).toEqual(compiled.sort());
  });

  it('passes publint and @arethetypeswrong/cli', async () => {
    const lint = await run(bin('publint'), ['--strict', installed]);
    expect(lint.stdout).toMatch(/All good!/);
    // ESM only, by design: CommonJS `require` of an ESM package is what the profile leaves out. attw exits
    // non-zero on any other problem; every subpath must resolve for Node 16+ ESM and bundlers.
    const types = await run(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'ascii']).catch(
      (e: { stdout: string; code: number }) => ({ ...e, failed: true }),
    );
    expect('failed' in types, types.stdout).toBe(false);
    const entries = types.stdout.split('***').filter((block) => /"switchyard[^"]*"/.test(block));
    expect(entries.length).toBeGreaterThan(15);
    for (const block of entries) {
      if (block.includes('"switchyard/package.json"')) continue;
      expect(block, block).toMatch(/node16 \(from ESM\): 🟢 \(ESM\)/);
      expect(block, block).toMatch(/bundler: 🟢/);
    }
  }, 120_000);
});

describe('Node, from node_modules', () => {
  it('runs a server and a client over WebSocket and SSE, in plain JavaScript without a loader', async () => {
    const { stdout } = await timed('node app', () =>
      run('node', ['node-app.mjs'], { cwd: project, timeout: 50_000 }),
    );
    const results = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(results).toMatchObject({
      websocket: { rung: 'websocket', topic: 'room.websocket', seq: 1, data: { hello: 'websocket' } },
      sse: { rung: 'sse', topic: 'room.sse', seq: 1, data: { hello: 'sse' } },
      api: { topic: 'from.backend', seq: 1 },
      metrics: true,
      closeCode: 'ForbiddenOrigin',
      errorCheck: 'function',
    });
    expect(results.node).toMatch(/^v2\d\./);
  }, 60_000);

  it('type-checks against the published declarations (strict, skipLibCheck off)', async () => {
    for (const moduleResolution of ['nodenext', 'bundler']) {
      writeFileSync(
        join(project, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: moduleResolution === 'bundler' ? 'preserve' : 'nodenext',
            moduleResolution,
            lib: ['ES2023', 'DOM', 'DOM.Iterable'],
            types: ['node'],
            strict: true,
            skipLibCheck: false,
            noEmit: true,
          },
          files: ['consumer.ts'],
        }),
      );
      const check = await timed(`tsc (${moduleResolution})`, () =>
        run(bin('tsc'), ['-p', 'tsconfig.json'], { cwd: project }).catch((e: { stdout: string }) => e),
      );
      expect(check.stdout, `${moduleResolution}:\n${check.stdout}`).toBe('');
    }
  }, 120_000);
});

describe('Deno and browsers, from node_modules', () => {
  let server: ChildProcess;
  let url: string;
  let bundleInputs: string[];

  beforeAll(async () => {
    const result = await build({
      entryPoints: [join(project, 'browser-app.ts')],
      absWorkingDir: project,
      bundle: true,
      write: false,
      metafile: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
    });
    bundleInputs = Object.keys(result.metafile.inputs);
    const bundleFile = join(project, 'app.js');
    writeFileSync(bundleFile, result.outputFiles[0]!.text);
    timings['browser bundle (bytes)'] = result.outputFiles[0]!.text.length;
    const deno = bin('deno');
    server = spawn(
      deno,
      ['run', '--unstable-net', '--allow-net', '--allow-read', '--allow-env', 'server.deno.ts', bundleFile],
      {
        cwd: project,
        env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    server.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`deno server did not start: ${stderr}`)), 60_000);
      server.once('exit', (code) => reject(new Error(`deno server exited ${code}: ${stderr}`)));
      createInterface({ input: server.stdout! }).once('line', (l) => {
        clearTimeout(timer);
        resolve(l);
      });
    });
    url = (JSON.parse(line) as { url: string }).url;
  }, 120_000);

  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
  });

  it('type-checks the Deno scripts against the package (deno check)', async () => {
    const deno = bin('deno');
    const check = await run(deno, ['check', 'server.deno.ts', 'client.deno.ts'], { cwd: project }).catch(
      (e: { stderr: string; code: number }) => e,
    );
    expect('code' in check ? check.stderr : '').toBe('');
  }, 120_000);

  it('a Deno client from npm: switchyard reaches the Deno server on every rung, WebTransport included', async () => {
    const deno = bin('deno');
    const { stdout } = await timed('deno client', () =>
      run(
        deno,
        ['run', '--unstable-net', '--allow-net', '--allow-read', '--allow-env', 'client.deno.ts', url],
        {
          cwd: project,
          timeout: 50_000,
        },
      ),
    );
    const results = JSON.parse(stdout.trim().split('\n').at(-1)!);
    for (const kind of ['webtransport', 'websocket', 'sse']) {
      expect(results[kind], kind).toEqual({ rung: kind, echoed: { from: 'deno' } });
    }
  }, 60_000);

  it('the browser bundle holds the client and rungs only: no Node built-in, no server code', () => {
    expect(
      bundleInputs.some((f) => f.startsWith('node_modules/switchyard/dist/src/client/')),
      bundleInputs.join('\n'),
    ).toBe(true);
    for (const forbidden of [
      /^node:|^(fs|net|http|https|crypto|stream|os|path|child_process)$/,
      /switchyard\/dist\/(server|e2e\/kit\/(?!probe))/,
      /switchyard\/dist\/.*\/(node|server[^/]*)\.js$/,
      /node_modules\/(hono|@hono|ws|eventsource|@fails-components|@peculiar|reflect-metadata|@playwright)\//,
    ]) {
      expect(
        bundleInputs.filter((f) => forbidden.test(f)),
        String(forbidden),
      ).toEqual([]);
    }
  });

  for (const [name, launch] of [
    [
      'chromium',
      () =>
        chromium.launch({
          executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
          args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
        }),
    ],
    [
      'firefox',
      () =>
        firefox.launch({
          channel: 'moz-firefox',
          executablePath: process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr',
        }),
    ],
  ] as const) {
    it(`${name} runs the bundled client: WebTransport by default, and each rung when pinned`, async () => {
      const browser = await launch();
      try {
        const page = await browser.newPage();
        await page.goto(`${url}/`);
        await page.waitForFunction(() => 'results' in window, undefined, { timeout: 30_000 });
        const results = await page.evaluate(() => (window as unknown as { results: unknown }).results);
        expect(results).toEqual({
          ladder: { rung: 'webtransport', echoed: { from: 'browser' } },
          webtransport: { rung: 'webtransport', echoed: { from: 'browser' } },
          websocket: { rung: 'websocket', echoed: { from: 'browser' } },
          sse: { rung: 'sse', echoed: { from: 'browser' } },
        });
      } finally {
        await browser.close();
      }
    }, 60_000);
  }
});

it('package.json engines and exports are what users rely on', () => {
  const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
    engines: { node: string };
    type: string;
    exports: Record<string, unknown>;
  };
  expect(pkg.type).toBe('module');
  expect(pkg.engines.node).toMatch(/^>=20/);
  expect(Object.keys(pkg.exports)).toEqual(
    expect.arrayContaining(['.', './client', './server/deno', './playwright']),
  );
});
