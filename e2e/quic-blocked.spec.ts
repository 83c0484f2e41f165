/**
 * The ladder in real browsers against the Deno binding, which offers all three rungs, with the network
 * fixtures apps use (switchyard/playwright, e2e/kit/):
 * - QUIC blocked (UDP to the server's port dropped by nftables): the client lands on WebSocket;
 * - QUIC blocked and a proxy that strips `Upgrade` in front (nginx): WebTransport and WebSocket both fail and
 *   the client exchanges messages over SSE. Time to the first exchanged message is measured and reported
 *   (target: within 3 s with default settings); it is not asserted, the machines are shared.
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
  exchangedAtMs: number;
}

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
    const client = sy.createClient({
      url: location.origin,
      transports: sy.browserTransports,
      token: async () =>
        ((await (await fetch('/rt/token', { method: 'POST' })).json()) as { token: string }).token,
    });
    sy.probe(client);
    client.on('attempt', (a: { kind: string; ok: boolean }) => attempts.push(`${a.kind}:${a.ok}`));
    client.subscribe(topic);
    const echoed = new Promise<void>((resolve) => client.on('message', () => resolve()));
    await client.publish(topic, 'over the ladder');
    await echoed;
    return { rung: client.rung, attempts, exchangedAtMs: Math.round(performance.now() - started) };
  }, topic);
}

const topic = () => `echo.ladder.${Math.random().toString(36).slice(2)}`;

test('QUIC blocked: the client lands on WebSocket', async ({ page, browserName, network, switchyard }) => {
  await network.blockQuic();
  const echo = topic();
  const outcome = await connectAndExchange(page, network.url('/'), echo);
  console.log(`[${browserName}] QUIC blocked: ${JSON.stringify(outcome)}`);
  expect(outcome.rung).toBe('websocket');
  expect(outcome.attempts.filter((a) => !a.startsWith('negotiate'))).toEqual([
    'webtransport:false',
    'websocket:true',
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
  expect(outcome.attempts.filter((a) => !a.startsWith('negotiate'))).toEqual([
    'webtransport:false',
    'websocket:false',
    'sse:true',
  ]);
  await switchyard.waitForRung('sse');
  await switchyard.expectNoLoss(echo, { count: 1 });
});

test('without a block the same page takes WebTransport', async ({ page, network, switchyard }) => {
  const echo = topic();
  const outcome = await connectAndExchange(page, network.url('/'), echo);
  expect(outcome.rung).toBe('webtransport');
  await switchyard.expectNoLoss(echo, { count: 1 });
});
