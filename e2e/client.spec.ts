/**
 * The client in real browsers: the bundle built by esbuild, the platform WebSocket, localStorage for the
 * remembered rung, and the `offline` / `online` events (Playwright's context.setOffline fires them).
 */
import { expect, type Page, test } from '@playwright/test';
import { MemoryHub } from '../server/hub/memory.ts';
import { type RunningServer, startNodeServer } from '../server/node.ts';
import { createProtocol, type Protocol } from '../server/protocol/index.ts';
import { clientBundle, serveClientPage } from './client-page.ts';

// Browsers come from the root playwright config's projects (chromium and firefox-esr, see DESIGN.md).

let server: RunningServer;
let protocol: Protocol;
let hub: MemoryHub;

test.beforeAll(async () => {
  const bundle = await clientBundle();
  hub = new MemoryHub();
  protocol = createProtocol({ hub, heartbeatMs: 2000 });
  server = await startNodeServer({
    onConnection: protocol.onConnection,
    heartbeatMs: 2000,
    configure: (app) => serveClientPage(app, bundle),
  });
});

test.afterAll(async () => {
  await server.close();
  protocol.close();
});

async function openClient(page: Page): Promise<void> {
  await page.goto(`${server.url}/client-test`);
  await page.waitForFunction(() => 'sy' in window);
  await page.evaluate((url) => {
    type Sy = {
      createClient: (o: object) => {
        on: (t: string, f: (e: unknown) => void) => void;
        subscribe: (t: string) => { lastSeq: number | undefined };
        connect: () => Promise<void>;
        publish: (t: string, d: unknown) => Promise<void>;
        state: string;
        rung: string | null;
        closeInfo?: { reason: string };
      };
      browserTransports: object;
    };
    const w = window as unknown as {
      sy: Sy;
      client: ReturnType<Sy['createClient']>;
      log: unknown[];
      sub: { lastSeq: number | undefined };
    };
    w.log = [];
    w.client = w.sy.createClient({
      url,
      transports: w.sy.browserTransports,
      backoff: { baseMs: 50, maxMs: 200 },
    });
    w.client.on('message', (m) => w.log.push(m));
    w.client.on('state', (s) => w.log.push(s));
    w.sub = w.client.subscribe('room');
  }, server.url);
  await page.evaluate(() =>
    (window as unknown as { client: { connect: () => Promise<void> } }).client.connect(),
  );
  await page.waitForFunction(
    () => (window as unknown as { sub: { lastSeq?: number } }).sub.lastSeq !== undefined,
  );
}

test('connects over WebSocket, publishes and receives, remembers the rung in localStorage', async ({
  page,
}) => {
  await openClient(page);
  const rung = await page.evaluate(() => (window as unknown as { client: { rung: string } }).client.rung);
  expect(rung).toBe('websocket');
  await page.evaluate(() =>
    (window as unknown as { client: { publish: (t: string, d: unknown) => Promise<void> } }).client.publish(
      'room',
      {
        text: 'from the browser',
      },
    ),
  );
  await expect
    .poll(() => page.evaluate(() => JSON.stringify((window as unknown as { log: unknown[] }).log)))
    .toContain('from the browser');
  const remembered = await page.evaluate(
    (origin) => localStorage.getItem(`switchyard:rung:${origin}`),
    server.url,
  );
  expect(JSON.parse(remembered ?? '{}')).toMatchObject({ kind: 'websocket' });
});

test('a large JSON message (64 KiB and more, every UTF-8 length) comes back to the browser intact', async ({
  page,
}) => {
  // Over 16 KiB a JSON message's data stays bytes through the server and goes out as fragments of one text
  // message (docs/protocol.md, "Large JSON messages"): what the browser reassembles must be what it published.
  await openClient(page);
  const same = await page.evaluate(async () => {
    const w = window as unknown as {
      client: { publish: (t: string, d: unknown) => Promise<void> };
      log: { topic?: string; data?: unknown }[];
    };
    const doc = {
      title: 'ünïcødé ☃ 日本語 😀',
      body: `line one\nline two\t${'x'.repeat(70_000)}`,
      rows: Array.from({ length: 500 }, (_, i) => ({ i, ok: i % 2 === 0, v: i / 7 })),
    };
    const before = w.log.length;
    await w.client.publish('room', doc);
    for (let tries = 0; tries < 500; tries++) {
      const got = w.log.slice(before).find((e) => typeof e === 'object' && e.topic === 'room');
      if (got) return JSON.stringify(got.data) === JSON.stringify(doc);
      await new Promise((r) => setTimeout(r, 10));
    }
    return 'not received';
  });
  expect(same).toBe(true);
});

test('offline drops the link at once; online reconnects and resumes what was missed', async ({
  page,
  context,
}) => {
  await openClient(page);
  await context.setOffline(true);
  await expect
    .poll(() =>
      page.evaluate(() => {
        const c = (window as unknown as { client: { state: string; closeInfo?: { reason: string } } }).client;
        return `${c.state} ${c.closeInfo?.reason}`;
      }),
    )
    .toBe('reconnecting the browser went offline');
  // Published while the browser is offline: must arrive after it comes back, once, in order.
  await hub.publish('room', 'missed 1');
  await hub.publish('room', 'missed 2');
  await context.setOffline(false);
  await expect
    .poll(() =>
      page.evaluate(() =>
        (window as unknown as { log: { data?: unknown }[] }).log
          .filter((e) => typeof e === 'object')
          .map((e) => e.data),
      ),
    )
    .toEqual(['missed 1', 'missed 2']);
  expect(await page.evaluate(() => (window as unknown as { client: { state: string } }).client.state)).toBe(
    'connected',
  );
});
