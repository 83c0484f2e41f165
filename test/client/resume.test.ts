/**
 * Reconnect + resume, both directions, across connections killed under the client: downstream every seq
 * arrives exactly once and in order (replayed from the hub's history), upstream every publish is applied
 * exactly once (re-sent under its id after the drop, deduplicated by the server's session).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Client, createClient } from '../../src/client/index.ts';
import { CloseCode } from '../../src/close-codes.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { startTestServer, type TestServer, until } from './harness.ts';
import { TcpRelay } from './relay.ts';

let server: TestServer | undefined;
let relay: TcpRelay | undefined;
let client: Client | undefined;
afterEach(async () => {
  client?.dispose();
  await relay?.close();
  await server?.close();
  client = undefined;
  relay = undefined;
  server = undefined;
});

async function exchangeWhileKilling(kill: () => void, label: string) {
  server = await startTestServer();
  relay = await TcpRelay.start(server.server.port);
  client = createClient({
    url: relay.url,
    transports: nodeTransports,
    rememberRung: false,
    backoff: { baseMs: 10, maxMs: 100 },
  });
  const c = client;
  const seqs: number[] = [];
  const values: unknown[] = [];
  c.on('message', (m) => {
    if (!m.reliable) return;
    seqs.push(m.seq);
    values.push(m.data);
  });
  const resets: unknown[] = [];
  c.on('reset', (r) => resets.push(r));
  const states: string[] = [];
  c.on('state', (s) => states.push(s));
  const down = c.subscribe('down');
  await c.connect();
  await until(() => down.lastSeq !== undefined, 'subscription confirmed');
  const firstSession = c.session;

  const DOWN = 400;
  const UP = 300;
  // Upstream: all publishes start at once, so some are in flight at every kill.
  const published = Array.from({ length: UP }, (_, i) => c.publish('up', i));
  // Downstream: the server publishes in small batches, killing the client's connection now and then.
  let kills = 0;
  for (let i = 1; i <= DOWN; i++) {
    await server.hub.publish('down', `m${i}`);
    if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    if (i % 100 === 50) {
      kill();
      kills++;
    }
  }
  await Promise.all(published);
  await until(() => seqs.length >= DOWN, `${label}: all downstream messages`);

  expect(seqs).toEqual(Array.from({ length: DOWN }, (_, i) => i + 1));
  expect(values[DOWN - 1]).toBe(`m${DOWN}`);
  expect(resets).toEqual([]);
  const up = server.received.filter((r) => r.topic === 'up').map((r) => r.data);
  expect(up).toHaveLength(UP);
  expect(new Set(up).size).toBe(UP);
  expect(states.filter((s) => s === 'reconnecting').length).toBeGreaterThanOrEqual(1);
  // The session survived the drops (same id), which is what made upstream dedup possible.
  expect(c.session).toBe(firstSession);
  const reconnects = states.filter((s) => s === 'reconnecting').length;
  console.info(
    `[${label}] kills=${kills} reconnects=${reconnects} pub duplicates deduped=${server.protocol.stats.duplicates} applied=${server.protocol.stats.applied}`,
  );
  return { kills, reconnects };
}

describe('reconnect and resume', () => {
  it('abrupt TCP cuts (RST): no loss, no duplicates, both directions', async () => {
    const r = await exchangeWhileKilling(() => relay?.cut(), 'cut');
    expect(r.kills).toBe(4);
  });

  it('server-side closes (ServiceRestart) of the live connection: no loss, no duplicates', async () => {
    const r = await exchangeWhileKilling(() => {
      for (const connection of server?.server.app.registry ?? [])
        connection.close(CloseCode.ServiceRestart, 'kill');
    }, 'server close');
    expect(r.kills).toBe(4);
  });

  it('replays what was published while the client was away, and reports reset when history is too short', async () => {
    server = await startTestServer({ hub: { historySize: 5 } });
    relay = await TcpRelay.start(server.server.port);
    client = createClient({
      url: relay.url,
      transports: nodeTransports,
      rememberRung: false,
      backoff: { baseMs: 200, maxMs: 200 },
    });
    const c = client;
    const got: number[] = [];
    const resets: { topic: string; seq: number; reason: string }[] = [];
    c.on('message', (m) => {
      if (m.reliable) got.push(m.seq);
    });
    c.on('reset', (r) => resets.push(r));
    const subs = [c.subscribe('short'), c.subscribe('fits')];
    await c.connect();
    await until(() => subs.every((s) => s.lastSeq !== undefined), 'subscriptions confirmed');
    await server.hub.publish('short', 1);
    await server.hub.publish('fits', 1);
    await until(() => got.length === 2, 'first messages');
    // Drop, and publish while the client waits out its backoff: 3 fit in history, 20 do not.
    const h = server.hub;
    const back = new Promise<void>((resolve) => {
      const off = c.on('state', (s) => {
        if (s === 'reconnecting') {
          off();
          void (async () => {
            for (let i = 2; i <= 21; i++) await h.publish('short', i);
            for (let i = 2; i <= 4; i++) await h.publish('fits', i);
            resolve();
          })();
        }
      });
    });
    relay.cut();
    await back;
    await until(() => c.state === 'connected' && resets.length === 1 && got.length >= 5, 'resume');
    expect(resets).toEqual([{ topic: 'short', seq: 21, reason: 'history-gap' }]);
    await server.hub.publish('short', 22);
    await until(() => got.length === 6, 'message after reset');
    expect(got).toEqual([1, 1, 2, 3, 4, 22]);
  });
});
