/**
 * The browser bundle split the way an app's bundler splits it (esbuild, code splitting on): WebTransport and
 * SSE + POST are chunks of their own that the page fetches only when the client opens that rung. Against the
 * Deno binding (every rung), in Chromium and Firefox: a client landing on each rung fetched exactly that
 * rung's chunk, and a publish went round on it.
 */
import { build } from 'esbuild';
import { type DenoServer, launchDenoServer } from '../server/deno/launch.ts';
import { expect, test } from './fixtures.ts';

const ROOT = new URL('../', import.meta.url).pathname;

let server: DenoServer;
/** Chunk file name -> contents; which chunk holds which rung. */
const files = new Map<string, Uint8Array>();
const rungChunk: Record<'webtransport' | 'sse', string> = { webtransport: '', sse: '' };

test.beforeAll(async () => {
  const result = await build({
    stdin: {
      contents: `
        import { createClient } from './src/client/index.ts';
        import { browserTransports } from './transports/index.browser.ts';
        window.sy = { createClient, browserTransports };
      `,
      resolveDir: ROOT,
      loader: 'ts',
      sourcefile: 'app.ts',
    },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    outdir: '/lazy',
    entryNames: 'app',
    write: false,
    metafile: true,
  });
  for (const file of result.outputFiles) files.set(file.path.split('/').pop()!, file.contents);
  for (const [path, output] of Object.entries(result.metafile.outputs)) {
    const inputs = Object.keys(output.inputs);
    const name = path.split('/').pop()!;
    if (inputs.includes('transports/webtransport/connection.ts')) rungChunk.webtransport = name;
    if (inputs.includes('transports/sse/client.ts')) rungChunk.sse = name;
  }
  expect(rungChunk.webtransport && rungChunk.sse && rungChunk.webtransport !== rungChunk.sse).toBeTruthy();
  // The page's own script only loads the app's entry chunk, as an app's page would.
  server = await launchDenoServer({ bundle: `import('/lazy/app.js');` });
});

test.afterAll(async () => {
  await server?.close();
});

for (const kind of ['webtransport', 'websocket', 'sse'] as const) {
  test(`a client on ${kind} fetches that rung's code only`, async ({ page }) => {
    // The app's chunks come from the server's origin; its page (served by the server) imports the entry chunk.
    const fetched: string[] = [];
    await page.route(`${server.url}/lazy/*.js`, (route) => {
      const name = new URL(route.request().url()).pathname.split('/').pop()!;
      fetched.push(name);
      const body = files.get(name);
      return body
        ? route.fulfill({ contentType: 'text/javascript', body: Buffer.from(body) })
        : route.abort();
    });
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => 'sy' in window);
    const outcome = await page.evaluate(async (kind) => {
      type Client = {
        connect(): Promise<void>;
        subscribe(topic: string): { lastSeq: number | undefined };
        publish(topic: string, data: unknown): Promise<void>;
        on(type: 'message', listener: (m: { data: unknown }) => void): void;
        rung: string | null;
        close(): void;
      };
      const sy = (window as unknown as { sy: { createClient(o: object): Client; browserTransports: object } })
        .sy;
      const negotiate = await (await fetch('/rt/negotiate')).json();
      const tokenUrl = new URL(negotiate.tokenUrl, new URL('/rt/negotiate', location.href)).href;
      const order =
        kind === 'webtransport' ? undefined : kind === 'websocket' ? ['websocket', 'sse'] : ['sse'];
      const client = sy.createClient({
        url: location.origin,
        transports: sy.browserTransports,
        rememberRung: false,
        climb: false,
        token: async () => (await (await fetch(tokenUrl, { method: 'POST' })).json()).token,
        ...(order ? { order } : {}),
      });
      await client.connect();
      const topic = `echo.lazy.${Math.random().toString(36).slice(2)}`;
      const got = new Promise((resolve) => client.on('message', (m) => resolve(m.data)));
      const sub = client.subscribe(topic);
      while (sub.lastSeq === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
      await client.publish(topic, { hello: kind });
      const data = await got;
      const rung = client.rung;
      client.close();
      return { rung, data };
    }, kind);
    expect(outcome).toEqual({ rung: kind, data: { hello: kind } });
    const rungChunks = fetched.filter((name) => name === rungChunk.webtransport || name === rungChunk.sse);
    expect(rungChunks).toEqual(kind === 'websocket' ? [] : [rungChunk[kind]]);
  });
}
