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
      subscriptions: Record<string, unknown>;
    };
    localStorage.clear();
    const client = w.sy.createClient({
      url: location.origin,
      transports: w.sy.browserTransports,
      token: async () =>
        ((await (await fetch('/rt/token', { method: 'POST' })).json()) as { token: string }).token,
    });
    w.sy.probe(client);
    w.subscriptions = { ticker: client.subscribe('ticker'), [echo]: client.subscribe(echo) };
    w.client = client;
  }, echo);
}

/**
 * Waits until the page's subscriptions are live: the server answered each with its baseline, so `lastSeq` is
 * defined (docs/client.md). Before that a subscription has no position to resume from: one whose first
 * connection drops before the answer arrives is subscribed again from the head at the next connection, so
 * whatever was published in between (the page's own first publishes too) is not part of it. A test that goes
 * offline must wait for this, as an app that needs every message waits for its subscription to be live.
 */
async function subscribed(page: Page): Promise<void> {
  await page.waitForFunction(() =>
    Object.values(
      (window as unknown as { subscriptions: Record<string, { lastSeq?: number }> }).subscriptions,
    ).every((s) => s.lastSeq !== undefined),
  );
}

/** Where the page's subscription to `topic` stands (the last sequence number it has seen). */
async function position(page: Page, topic: string): Promise<number> {
  const seq = await page.evaluate(
    (topic) =>
      (window as unknown as { subscriptions: Record<string, { lastSeq?: number }> }).subscriptions[topic]
        ?.lastSeq,
    topic,
  );
  if (seq === undefined) throw new Error(`the page's subscription to ${topic} is not live`);
  return seq;
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

/**
 * Starts the page with nothing in the way, waits for WebTransport and for its subscriptions to be live,
 * publishes `n`; returns the echo topic.
 */
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
  await subscribed(page);
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
  // Everything up to here the page has seen; every tick after it must arrive, the ones published offline too.
  const lastTickSeen = await position(page, 'ticker');
  await publish(page, echo, 4, 3); // queued in the outbox while offline
  await page.waitForTimeout(2500); // the ticker keeps publishing meanwhile (at least two ticks)
  await network.online();
  const back = await switchyard.waitForRung('webtransport');
  expect(back.states).toContain('reconnecting');
  await switchyard.expectNoLoss(echo, { count: 6 });
  expect(await switchyard.messages(echo)).toEqual([1, 2, 3, 4, 5, 6]);
  // The ticker missed no beat across the gap: wait until it ticked past the gap (no timing assumed), then
  // every tick after the last one seen before going offline arrived, once and in order.
  await expect
    .poll(
      async () => Math.max(0, ...((await switchyard.snapshot()).messages.ticker ?? []).map((m) => m.seq)),
      {
        timeout: 20_000,
      },
    )
    .toBeGreaterThanOrEqual(lastTickSeen + 3);
  await switchyard.expectNoLoss('ticker', { from: lastTickSeen + 1 });
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
