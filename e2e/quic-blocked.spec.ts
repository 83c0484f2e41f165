/**
 * The ladder in real browsers against the Deno binding, which offers all three rungs, with the network
 * fixtures apps use (switchyard/playwright, e2e/kit/). The rungs race (happy eyeballs): each next one starts
 * after a head start, so a blocked rung costs its head start, never its whole budget.
 * - QUIC blocked (UDP to the server's port dropped by nftables): the client lands on WebSocket, well before
 *   WebTransport's budget (1000 ms) would have run out; WebTransport is abandoned once WebSocket won;
 * - QUIC blocked and a proxy that strips `Upgrade` in front (nginx): WebTransport and WebSocket both fail and
 *   the client exchanges messages over SSE, as fast;
 * - nothing blocked: WebTransport, and the page never opens a WebSocket (the race costs nothing there).
 * Times are asserted as bounds with generous slack (shared machines); measured numbers: docs/fallback.md.
 * The kit needs root, nftables and nginx, and fails (never skips) without them.
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
  deno = await launchDenoServer({ port: 0, bundle: await clientBundle() });
});
test.afterAll(async () => {
  await deno?.close();
});

interface Outcome {
  rung: string | null;
  attempts: string[];
  /** From createClient to connected. */
  connectedMs: number;
  exchangedAtMs: number;
}

/** Generous for two shared cores; tried in turn, WebTransport's budget alone was 1000 ms. */
const CONNECTED_WITHIN_MS = 1000;

/** Default settings, a fresh token per attempt (the Deno demo requires them), one publish round trip. */
async function connectAndExchange(page: Page, url: string, topic: string): Promise<Outcome> {
  await page.goto(url);
  await page.waitForFunction(() => 'sy' in window);
  return page.evaluate(async (topic) => {
    type C = {
      on: (t: string, f: (e: never) => void) => void;
      subscribe: (t: string) => unknown;
      publish: (t: string, d: unknown) => Promise<void>;
      rung: string | null;
    };
    const sy = (
      window as unknown as {
        sy: { createClient: (o: object) => C; browserTransports: object; probe: (c: C) => void };
      }
    ).sy;
    localStorage.clear();
    const started = performance.now();
    const attempts: string[] = [];
    let connectedMs = Number.NaN;
    const client = sy.createClient({
      url: location.origin,
      transports: sy.browserTransports,
      token: async () =>
        ((await (await fetch('/rt/token', { method: 'POST' })).json()) as { token: string }).token,
    });
    sy.probe(client);
    client.on('attempt', (a: { kind: string; ok: boolean }) => attempts.push(`${a.kind}:${a.ok}`));
    client.on('state', (state: string) => {
      if (state === 'connected' && Number.isNaN(connectedMs)) connectedMs = performance.now() - started;
    });
    client.subscribe(topic);
    const echoed = new Promise<void>((resolve) => client.on('message', () => resolve()));
    await client.publish(topic, 'over the ladder');
    await echoed;
    return {
      rung: client.rung,
      attempts,
      connectedMs: Math.round(connectedMs),
      exchangedAtMs: Math.round(performance.now() - started),
    };
  }, topic);
}

/** The WebSockets `page` opens from now on, counted by the browser: one never opened never reached the server. */
function websocketsOpenedBy(page: Page): string[] {
  const urls: string[] = [];
  page.on('websocket', (ws) => urls.push(ws.url()));
  return urls;
}

const topic = () => `echo.ladder.${Math.random().toString(36).slice(2)}`;

test('QUIC blocked: the client lands on WebSocket', async ({ page, browserName, network, switchyard }) => {
  await network.blockQuic();
  const echo = topic();
  const outcome = await connectAndExchange(page, network.url('/'), echo);
  console.log(`[${browserName}] QUIC blocked: ${JSON.stringify(outcome)}`);
  expect(outcome.rung).toBe('websocket');
  expect(outcome.connectedMs).toBeLessThan(CONNECTED_WITHIN_MS);
  // WebSocket won the race; WebTransport, still trying, was abandoned then. (On a starved machine WebSocket may
  // outlast its own head start, so that SSE starts too and loses: not counted here.)
  await expect
    .poll(async () => (await switchyard.snapshot()).attempts.some((a) => a.kind === 'webtransport'))
    .toBe(true);
  const { attempts } = await switchyard.snapshot();
  const ours = attempts.filter((a) => a.kind === 'websocket' || a.kind === 'webtransport');
  expect(ours.map((a) => `${a.kind}:${a.error ?? 'ok'}`)).toEqual([
    'websocket:ok',
    'webtransport:webtransport: another rung won the race',
  ]);
  await switchyard.waitForRung('websocket');
  await switchyard.expectNoLoss(echo, { count: 1 });
});

test('QUIC blocked and Upgrade stripped by a proxy: the client exchanges messages over SSE', async ({
  page,
  browserName,
  network,
  switchyard,
}) => {
  await network.blockQuic();
  await network.blockWebSocket();
  const echo = topic();
  const outcome = await connectAndExchange(page, network.url('/'), echo);
  console.log(
    `[${browserName}] WebTransport and WebSocket blocked: ${JSON.stringify(outcome)} (target: < 3000 ms)`,
  );
  expect(outcome.rung).toBe('sse');
  expect(outcome.connectedMs).toBeLessThan(CONNECTED_WITHIN_MS);
  // WebSocket refused (426) at once and SSE started right then; WebTransport lost the race, whenever it ended.
  const rungs = outcome.attempts.filter((a) => !a.startsWith('negotiate'));
  expect([...rungs].sort()).toEqual(['sse:true', 'websocket:false', 'webtransport:false']);
  expect(rungs.indexOf('websocket:false')).toBeLessThan(rungs.indexOf('sse:true'));
  await switchyard.waitForRung('sse');
  await switchyard.expectNoLoss(echo, { count: 1 });
});

test.describe(() => {
  // WebSocket starts once WebTransport has had its 250 ms head start without a welcome, by design. On two shared
  // cores a browser's WebTransport handshake outlasted that once in CI (2026-12-07: WebSocket won, in Chromium;
  // not reproduced in ten runs since, three of them with both cores busy), so this test gets one more go: a second
  // miss in a row is a failure.
  test.describe.configure({ retries: 1 });

  test('without a block the same page takes WebTransport, and opens no WebSocket', async ({
    page,
    network,
    switchyard,
  }) => {
    const websockets = websocketsOpenedBy(page);
    const echo = topic();
    const outcome = await connectAndExchange(page, network.url('/'), echo);
    expect(outcome.rung).toBe('webtransport');
    expect(outcome.connectedMs).toBeLessThan(CONNECTED_WITHIN_MS);
    expect(outcome.attempts.filter((a) => !a.startsWith('negotiate'))).toEqual(['webtransport:true']);
    expect(websockets).toEqual([]);
    await switchyard.expectNoLoss(echo, { count: 1 });
  });
});

test('every rung at once (no head start): one wins, nothing is doubled or lost', async ({
  page,
  network,
  switchyard,
}) => {
  // Forces the case the race must survive: several rungs pass their handshakes at about the same time.
  const websockets = websocketsOpenedBy(page);
  await page.goto(network.url('/'));
  await page.waitForFunction(() => 'sy' in window);
  const echo = topic();
  const rung = await page.evaluate(async (topic) => {
    type C = {
      on: (t: string, f: (e: never) => void) => void;
      subscribe: (t: string) => unknown;
      publish: (t: string, d: unknown) => Promise<void>;
      rung: string | null;
      connect: () => Promise<void>;
    };
    const sy = (
      window as unknown as {
        sy: { createClient: (o: object) => C; browserTransports: object; probe: (c: C) => void };
      }
    ).sy;
    localStorage.clear();
    const client = sy.createClient({
      url: location.origin,
      transports: sy.browserTransports,
      headStartMs: 0,
      climb: false,
      token: async () =>
        ((await (await fetch('/rt/token', { method: 'POST' })).json()) as { token: string }).token,
    });
    sy.probe(client);
    client.subscribe(topic);
    // Published during the race: held until a winner is known, then sent on it alone.
    const sent = [1, 2, 3, 4, 5].map((n) => client.publish(topic, n));
    await client.connect();
    await Promise.all(sent);
    return client.rung;
  }, echo);
  // Whichever won, the others were closed: at most the one WebSocket that may have won stays open.
  await expect.poll(async () => (await switchyard.snapshot()).attempts.length).toBe(4);
  const { attempts } = await switchyard.snapshot();
  expect(attempts.filter((a) => a.kind === rung && a.ok)).toHaveLength(1);
  await switchyard.expectNoLoss(echo, { count: 5 });
  expect((await switchyard.messages(echo)).sort()).toEqual([1, 2, 3, 4, 5]);
  expect(websockets.length).toBeLessThanOrEqual(1);
});
