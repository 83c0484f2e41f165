/**
 * The ladder in real browsers against the Deno binding, which offers all three rungs:
 * - QUIC blocked (UDP to the server's port dropped by nftables): the client lands on WebSocket;
 * - QUIC blocked and a proxy that strips `Upgrade` in front (nginx): WebTransport and WebSocket both fail and
 *   the client exchanges messages over SSE. Time to the first exchanged message is measured and reported
 *   (target: within 3 s with default settings); it is not asserted, the machines are shared.
 */

import { type DenoServer, launchDenoServer } from '../server/deno/launch.ts';
import { clientBundle } from './client-page.ts';
import { expect, test } from './fixtures.ts';
import { startNginx } from './support/nginx.ts';
import { blockUdpPort, nftUnavailableReason } from './support/udp-block.ts';

type Page = import('@playwright/test').Page;

const unavailable = nftUnavailableReason();
test.skip(unavailable !== null, unavailable ?? '');

let deno: DenoServer;
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
async function connectAndExchange(page: Page, base: string): Promise<Outcome> {
  await page.goto(`${base}/`);
  await page.waitForFunction(() => 'sy' in window);
  return page.evaluate(async () => {
    type C = {
      on: (t: string, f: (e: never) => void) => void;
      subscribe: (t: string) => unknown;
      publish: (t: string, d: unknown) => Promise<void>;
      rung: string | null;
    };
    const sy = (window as unknown as { sy: { createClient: (o: object) => C; browserTransports: object } })
      .sy;
    localStorage.clear();
    const started = performance.now();
    const attempts: string[] = [];
    const client = sy.createClient({
      url: location.origin,
      transports: sy.browserTransports,
      token: async () =>
        ((await (await fetch('/rt/token', { method: 'POST' })).json()) as { token: string }).token,
    });
    client.on('attempt', (a: { kind: string; ok: boolean }) => attempts.push(`${a.kind}:${a.ok}`));
    const topic = `echo.ladder.${Math.random().toString(36).slice(2)}`;
    client.subscribe(topic);
    const echoed = new Promise<void>((resolve) => client.on('message', () => resolve()));
    await client.publish(topic, 'over the ladder');
    await echoed;
    return { rung: client.rung, attempts, exchangedAtMs: Math.round(performance.now() - started) };
  });
}

test('QUIC blocked: the client lands on WebSocket', async ({ page, browserName }) => {
  const block = blockUdpPort(deno.port);
  try {
    const outcome = await connectAndExchange(page, deno.url);
    console.log(`[${browserName}] QUIC blocked: ${JSON.stringify(outcome)}`);
    expect(outcome.rung).toBe('websocket');
    expect(outcome.attempts.filter((a) => !a.startsWith('negotiate'))).toEqual([
      'webtransport:false',
      'websocket:true',
    ]);
  } finally {
    block.remove();
  }
});

test('QUIC blocked and Upgrade stripped by a proxy: the client exchanges messages over SSE', async ({
  page,
  browserName,
}) => {
  const block = blockUdpPort(deno.port);
  const nginx = await startNginx({ upstreamPort: deno.port, mode: 'strip-upgrade' });
  const proxyBlock = blockUdpPort(nginx.port);
  try {
    const outcome = await connectAndExchange(page, nginx.url);
    console.log(
      `[${browserName}] WebTransport and WebSocket blocked: ${JSON.stringify(outcome)} (target: < 3000 ms)`,
    );
    expect(outcome.rung).toBe('sse');
    expect(outcome.attempts.filter((a) => !a.startsWith('negotiate'))).toEqual([
      'webtransport:false',
      'websocket:false',
      'sse:true',
    ]);
  } finally {
    proxyBlock.remove();
    block.remove();
    await nginx.close();
  }
});

test('without a block the same page takes WebTransport', async ({ page }) => {
  const outcome = await connectAndExchange(page, deno.url);
  expect(outcome.rung).toBe('webtransport');
});
