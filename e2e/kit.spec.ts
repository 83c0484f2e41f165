/**
 * The Playwright kit (switchyard/playwright, e2e/kit/) proving itself in Chromium and Firefox against the
 * Deno binding (all three rungs): offline and back, a silent network drop (no FIN/RST), buffering proxies.
 * Each test checks that the condition really happened (the client noticed it) and that nothing was lost on
 * the server's ticker topic (published every second meanwhile, resumed by sequence) nor among the page's
 * own publishes (queued while down, acknowledged after). The QUIC and WebSocket blocks are exercised by
 * quic-blocked.spec.ts, the example app (examples/chat) uses the kit as an app would.
 */
import { type DenoServer, launchDenoServer } from '../server/deno/launch.ts';
import { clientBundle } from './client-page.ts';
import { expect, test as kit } from './kit/index.ts';

type Page = import('@playwright/test').Page;

let deno: DenoServer;
const test = kit.extend({
  // biome-ignore lint/correctness/noEmptyPattern: Playwright requires the destructuring pattern.
  switchyardTarget: async ({}, use) => use(deno.url),
});

test.beforeAll(async () => {
  // A short heartbeat, so that a silent drop is noticed within a few seconds.
  deno = await launchDenoServer({ port: 0, bundle: await clientBundle(), heartbeatMs: 1000 });
});
test.afterAll(async () => {
  await deno?.close();
});

/** Loads the page, creates a probed client (tokens, default ladder), subscribes to the ticker and `echo`. */
async function start(page: Page, url: string, echo: string): Promise<void> {
  await page.goto(url);
  await page.waitForFunction(() => 'sy' in window);
  await page.evaluate((echo) => {
    type C = { subscribe: (t: string) => unknown; publish: (t: string, d: unknown) => Promise<void> };
    const w = window as unknown as {
      sy: { createClient: (o: object) => C; browserTransports: object; probe: (c: C) => void };
      client: C;
    };
    localStorage.clear();
    const client = w.sy.createClient({
      url: location.origin,
      transports: w.sy.browserTransports,
      token: async () =>
        ((await (await fetch('/rt/token', { method: 'POST' })).json()) as { token: string }).token,
    });
    w.sy.probe(client);
    client.subscribe('ticker');
    client.subscribe(echo);
    w.client = client;
  }, echo);
}

/** Publishes `n` numbered messages from the page without waiting for their acks (they may be queued). */
async function publish(page: Page, topic: string, from: number, n: number): Promise<void> {
  await page.evaluate(
    ({ topic, from, n }) => {
      const w = window as unknown as { client: { publish: (t: string, d: unknown) => Promise<void> } };
      for (let i = from; i < from + n; i++) void w.client.publish(topic, i).catch(() => undefined);
    },
    { topic, from, n },
  );
}

const echoTopic = () => `echo.kit.${Math.random().toString(36).slice(2)}`;

/** Starts the page with nothing in the way, waits for WebTransport, publishes `n`; returns the echo topic. */
async function onWebTransport(
  page: Page,
  fixtures: {
    network: { url(path?: string): string };
    switchyard: { waitForRung(rung: 'webtransport'): Promise<unknown> };
  },
  n: number,
): Promise<string> {
  const echo = echoTopic();
  await start(page, fixtures.network.url('/'), echo);
  await fixtures.switchyard.waitForRung('webtransport');
  await publish(page, echo, 1, n);
  return echo;
}

test('offline and back: the page reconnects and resumes, nothing lost either way', async ({
  page,
  network,
  switchyard,
}) => {
  const echo = await onWebTransport(page, { network, switchyard }, 3);
  await network.offline();
  await switchyard.waitForState('reconnecting');
  await publish(page, echo, 4, 3); // queued in the outbox while offline
  await page.waitForTimeout(2500); // the ticker keeps publishing meanwhile
  await network.online();
  const back = await switchyard.waitForRung('webtransport');
  expect(back.states).toContain('reconnecting');
  await switchyard.expectNoLoss(echo, { count: 6 });
  expect(await switchyard.messages(echo)).toEqual([1, 2, 3, 4, 5, 6]);
  // The ticker missed no beat across the gap: contiguous from the first tick seen, at least the gap's worth.
  const ticks = await switchyard.expectNoLoss('ticker');
  expect(ticks.messages.ticker?.length).toBeGreaterThanOrEqual(3);
});

test('silent network drop (no FIN, no RST): the heartbeat notices, the page comes back without loss', async ({
  page,
  network,
  switchyard,
}) => {
  const echo = await onWebTransport(page, { network, switchyard }, 2);
  await switchyard.expectNoLoss(echo, { count: 2 });
  await network.silentDrop();
  await publish(page, echo, 3, 2);
  // Nothing closes the connection: only the application heartbeat (1 s here) can tell it is dead.
  const down = await switchyard.waitForState('reconnecting', { timeout: 15_000 });
  expect(down.attempts.filter((a) => a.ok)).toHaveLength(2); // negotiate + the first rung, no new one yet
  await network.restore();
  await switchyard.waitForState('connected', { timeout: 30_000 });
  await switchyard.expectNoLoss(echo, { count: 4 });
  await switchyard.expectNoLoss('ticker');
});

test('a buffering proxy that passes WebSockets: the page lands on WebSocket, not on the stalled SSE', async ({
  page,
  network,
  switchyard,
}) => {
  await network.blockQuic();
  await network.bufferingProxy();
  const echo = echoTopic();
  await start(page, network.url('/'), echo);
  await switchyard.waitForRung('websocket');
  await publish(page, echo, 1, 5);
  await switchyard.expectNoLoss(echo, { count: 5 });
});

test('a buffering proxy that also strips Upgrade: the SSE handshake starves, no rung works, the page stays down', async ({
  page,
  network,
  switchyard,
}) => {
  await network.blockQuic();
  await network.bufferingProxy({ websocket: 'strip' });
  await start(page, network.url('/'), echoTopic());
  // The proof that the proxy really buffers: the same SSE rung works through a plain proxy (quic-blocked.spec.ts).
  await expect
    .poll(async () => (await switchyard.snapshot()).attempts.map((a) => `${a.kind}:${a.ok}`), {
      timeout: 20_000,
    })
    .toEqual(expect.arrayContaining(['websocket:false', 'sse:false']));
  const snapshot = await switchyard.snapshot();
  expect(snapshot.rung).toBeNull();
  expect(snapshot.states).not.toContain('connected');
});
