/**
 * The SSE + POST rung in real browsers: the platform EventSource and fetch, exact text and bytes both ways,
 * a server close code, and a resume after the TCP connection under the page is cut (the browser's own
 * EventSource reconnect with Last-Event-ID).
 */
import { expect, type Page, test } from '@playwright/test';
import { bundleForBrowser } from '../server/demo/bundle.ts';
import { type RunningServer, startNodeServer } from '../server/node.ts';
import type { ServerConnection } from '../src/transport.ts';
import { TcpRelay } from '../test/client/relay.ts';

let server: RunningServer;
let relay: TcpRelay;
const connections: ServerConnection[] = [];

function sseBundle(): Promise<string> {
  return bundleForBrowser({
    contents: `import { createSseTransport } from './transports/sse/client.ts'; window.sse = { createSseTransport };`,
  });
}

test.beforeAll(async () => {
  const bundle = await sseBundle();
  server = await startNodeServer({
    onConnection: (connection) => {
      connections.push(connection);
      connection.on('message', (m) => {
        if (m.data === 'close me') connection.close(4321, 'bye ☃');
        else connection.send(m.data, { channel: m.channel }).catch(() => {});
      });
    },
    configure: (app) => {
      app.app.get('/sse-test.js', (c) => c.body(bundle, 200, { 'content-type': 'text/javascript' }));
      app.app.get('/sse-test', (c) =>
        c.html('<!doctype html><meta charset="utf-8"><script type="module" src="/sse-test.js"></script>'),
      );
    },
  });
  relay = await TcpRelay.start(server.port);
});

test.afterAll(async () => {
  await relay.close();
  await server.close();
});

interface PageState {
  log: { data: string | number[]; channel: string }[];
  closes: { code: number; reason: string; wasClean: boolean }[];
  state: () => string;
  send: (data: string | number[], channel?: string) => Promise<void>;
}

async function openTransport(page: Page, origin: string): Promise<void> {
  await page.goto(`${origin}/sse-test`);
  await page.waitForFunction(() => 'sse' in window);
  await page.evaluate(async () => {
    type T = {
      on: (type: string, listener: (event: never) => void) => void;
      send: (data: string | Uint8Array, options?: { channel?: string }) => Promise<void>;
      state: string;
      capabilities: object;
    };
    const w = window as unknown as { sse: { createSseTransport: (o: object) => T }; t: PageState };
    const transport = w.sse.createSseTransport({ url: `${location.origin}/rt/sse` });
    const state: PageState = {
      log: [],
      closes: [],
      state: () => transport.state,
      send: (data, channel) =>
        transport.send(typeof data === 'string' ? data : Uint8Array.from(data), { channel: channel ?? '' }),
    };
    transport.on('message', (m: { data: string | Uint8Array; channel: string }) =>
      state.log.push({ data: typeof m.data === 'string' ? m.data : [...m.data], channel: m.channel }),
    );
    transport.on('close', (e: { code: number; reason: string; wasClean: boolean }) => state.closes.push(e));
    w.t = state;
    await new Promise((resolve) => transport.on('open', resolve as never));
  });
}

const logLength = (page: Page) => page.evaluate(() => (window as unknown as { t: PageState }).t.log.length);

test('echoes text and bytes exactly through EventSource + fetch, and reports the server close code', async ({
  page,
}) => {
  await openTransport(page, server.url);
  const texts = ['', 'a\r\nb', 'x\ry', '\n', 'nul\u0000', '☃ 😀', ' leading space'];
  const all = Array.from({ length: 256 }, (_, i) => i);
  await page.evaluate(
    async ([t, bytes]) => {
      const w = window as unknown as { t: PageState };
      await Promise.all([...t.map((x) => w.t.send(x, 'chat')), w.t.send(bytes, 'bin')]);
    },
    [texts, all] as const,
  );
  await expect.poll(() => logLength(page)).toBe(texts.length + 1);
  const log = await page.evaluate(() => (window as unknown as { t: PageState }).t.log);
  expect(log).toEqual([...texts.map((data) => ({ data, channel: 'chat' })), { data: all, channel: 'bin' }]);
  await page.evaluate(() => (window as unknown as { t: PageState }).t.send('close me'));
  await expect
    .poll(() => page.evaluate(() => (window as unknown as { t: PageState }).t.closes))
    .toEqual([{ code: 4321, reason: 'bye ☃', wasClean: true }]);
});

test('resumes after the TCP connection under the page is cut, with nothing lost or doubled', async ({
  page,
}) => {
  const before = connections.length;
  await openTransport(page, `http://127.0.0.1:${relay.port}`);
  await expect.poll(() => connections.length).toBe(before + 1);
  const connection = connections[before]!;
  for (let i = 0; i < 50; i++) void connection.send(`m${i}`);
  await expect.poll(() => logLength(page)).toBe(50);
  relay.cut();
  for (let i = 50; i < 100; i++) void connection.send(`m${i}`);
  await expect.poll(() => logLength(page), { timeout: 15_000 }).toBe(100);
  const log = await page.evaluate(() => (window as unknown as { t: PageState }).t.log.map((m) => m.data));
  expect(log).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`));
  expect(await page.evaluate(() => (window as unknown as { t: PageState }).t.closes)).toEqual([]);
  expect(connection.state).toBe('open');
});
