/**
 * What WebTransport's independent streams give an app, observed through `createClient` in real browsers over
 * native HTTP/3 (the Deno binding), behind a narrow link (e2e/bottleneck.ts): a bulk topic sends 2 MiB while a
 * chat topic sends ten small messages. On WebTransport each topic has its own stream, so every chat message
 * arrives while the bulk transfer is still under way; on WebSocket, on SSE and on WebTransport with one
 * stream for everything (`lanes: 0`), the chat messages wait behind the bulk bytes. Meanwhile a cursor topic
 * sends unreliable updates: on WebTransport they travel as datagrams (with or without lanes) and keep
 * arriving during the bulk transfer; on one ordered connection none can arrive before the bulk bytes ahead of
 * it (the server drops them while the backlog it can see is over the volatile high-water mark; what already
 * sits in the kernel's socket buffers it cannot see, so some arrive late instead). The contrast is the
 * assertion; no times are.
 */
import { bundleForBrowser } from '../server/demo/bundle.ts';
import { type DenoServer, launchDenoServer } from '../server/deno/launch.ts';
import { Bottleneck } from './bottleneck.ts';
import { expect, test } from './fixtures.ts';

let server: DenoServer;
let relay: Bottleneck;

test.beforeAll(async () => {
  const bundle = await bundleForBrowser({
    contents: `
      import { pinnedClient } from './e2e/support/pinned-client.ts';
      window.sy = { pinnedClient };
    `,
  });
  server = await launchDenoServer({ bundle });
  // 1 MB/s downstream: the 2 MiB bulk topic takes about two seconds to cross.
  relay = await Bottleneck.start({ target: server.port, bytesPerSecond: 1_000_000 });
});

test.afterAll(async () => {
  await relay?.close();
  await server?.close();
});

type Scenario = { kind: 'webtransport' | 'websocket' | 'sse'; lanes?: number };

/**
 * Runs bulk + chat + cursor through one client pinned to a rung; returns the arrival order ('A' bulk,
 * 'B' chat, 'C' cursor) and the client's counters.
 */
async function bulkAndChat(page: import('@playwright/test').Page, scenario: Scenario) {
  await page.goto(`http://127.0.0.1:${relay.port}/`);
  await page.waitForFunction(() => 'sy' in window);
  return page.evaluate(async ({ kind, lanes }) => {
    type Message = { topic: string; reliable: boolean };
    type Client = {
      rung: string | null;
      stats: { volatileSent: number; volatileDropped: number; volatileReceived: number };
      subscribe(topic: string): { lastSeq: number | undefined };
      publish(topic: string, data: unknown, options?: object): Promise<void>;
      connect(): Promise<void>;
      on(type: 'message', listener: (m: Message) => void): () => void;
      dispose(): void;
    };
    const sy = (window as unknown as { sy: { pinnedClient(kind: string, o: object): Promise<Client> } }).sy;
    const client = await sy.pinnedClient(kind, {
      buffer: { maxBytes: 8 << 20, maxMessages: 10_000 },
      ...(lanes === undefined ? {} : { lanes }),
    });
    const id = Math.random().toString(36).slice(2, 10);
    const bulk = `echo.bulk.${id}`;
    const chat = `echo.chat.${id}`;
    const cursor = `echo.cursor.${id}`;
    const subs = [client.subscribe(bulk), client.subscribe(chat), client.subscribe(cursor)];
    await client.connect();
    while (subs.some((s) => s.lastSeq === undefined)) await new Promise((r) => setTimeout(r, 5));
    const log: string[] = [];
    client.on('message', (m) => log.push(m.topic === bulk ? 'A' : m.topic === chat ? 'B' : 'C'));
    const pad = 'x'.repeat(64 * 1024 - 100);
    const sent: Promise<void>[] = [];
    for (let i = 0; i < 32; i++) sent.push(client.publish(bulk, { i, pad }));
    for (let j = 0; j < 10; j++) {
      await new Promise((r) => setTimeout(r, 40));
      sent.push(client.publish(chat, { j }));
      // Two cursor positions per chat message, each superseding the last.
      await client.publish(cursor, { x: 2 * j }, { reliable: false });
      await client.publish(cursor, { x: 2 * j + 1 }, { reliable: false });
    }
    await Promise.all(sent);
    const count = (c: string) => log.filter((x) => x === c).length;
    while (count('A') < 32 || count('B') < 10) await new Promise((r) => setTimeout(r, 10));
    // Unreliable updates still in flight get a moment; the ones that were dropped never come.
    await new Promise((r) => setTimeout(r, 300));
    const rung = client.rung;
    const stats = client.stats;
    client.dispose();
    return { rung, order: log.join(''), stats };
  }, scenario);
}

for (const scenario of [
  { kind: 'webtransport' },
  { kind: 'webtransport', lanes: 0 },
  { kind: 'websocket' },
  { kind: 'sse' },
] as Scenario[]) {
  const label = `${scenario.kind}${scenario.lanes === 0 ? ' (one stream for everything)' : ''}`;
  const independent = scenario.kind === 'webtransport' && scenario.lanes !== 0;
  const datagrams = scenario.kind === 'webtransport';
  test(`behind a narrow link, ${label}: chat ${independent ? 'overtakes' : 'waits behind'} a bulk topic, cursors ${datagrams ? 'flow beside it' : 'do not pass it'}`, async ({
    page,
  }, info) => {
    const { rung, order, stats } = await bulkAndChat(page, scenario);
    console.log(`[${info.project.name}] ${label}: arrival order ${order}; cursor ${JSON.stringify(stats)}`);
    expect(rung).toBe(scenario.kind);
    const reliable = order.replace(/C/g, '');
    const lastBulk = order.lastIndexOf('A');
    // Sent after every bulk message was published: any that arrives before the last bulk message passed it
    // (the first ones may even beat the first bulk message, which is still crossing the narrow link).
    const cursorsDuringBulk = [...order.slice(0, lastBulk)].filter((c) => c === 'C');
    if (independent) {
      // Every chat message arrived while the bulk topic was still flowing.
      expect(reliable.lastIndexOf('B')).toBeLessThan(reliable.lastIndexOf('A'));
    } else {
      // One ordered stream: the chat messages queued behind every bulk byte sent before them.
      expect(reliable).toBe(`${'A'.repeat(32)}${'B'.repeat(10)}`);
    }
    if (datagrams) {
      // Cursor updates travel as datagrams beside the streams (some may be lost: that is the deal).
      expect(cursorsDuringBulk.length).toBeGreaterThan(0);
    } else {
      // Behind the bulk bytes on the one ordered connection: dropped or late, never during.
      expect(cursorsDuringBulk).toEqual([]);
    }
    expect(stats.volatileSent + stats.volatileDropped).toBe(20);
  });
}
