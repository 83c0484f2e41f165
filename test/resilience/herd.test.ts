/**
 * 200 Node clients on one server; the server process restarts (SIGTERM: every client gets 1001, then it
 * listens again on the same port). Reconnects must spread over the jittered backoff window instead of
 * arriving in one burst (a thundering herd that would knock over the server that just came back).
 * Reported: histogram and percentiles of reconnect times, measured from the moment each client lost
 * its connection. Asserted: the spread covers the window (shape), not any absolute duration.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Client, createClient } from '../../src/client/index.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { until } from '../client/harness.ts';
import { type ServerChild, spawnServer } from './support/child.ts';

const CLIENTS = 200;
const BASE_MS = 1000;

let child: ServerChild | undefined;
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.dispose();
  await child?.kill('SIGKILL');
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

describe('200 clients after a server restart', () => {
  it('reconnect times spread over the backoff window (no thundering herd)', { timeout: 60_000 }, async () => {
    child = await spawnServer();
    const port = child.port;
    const lostAt = new Map<Client, number>();
    // Last time each client became connected: a client that jittered to ~0 ms may land on the old process
    // while it shuts down; it is cut again when that process exits, and its final arrival is what counts.
    const arrivalOf = new Map<Client, number>();
    for (let i = 0; i < CLIENTS; i++) {
      const c = createClient({
        url: child.url,
        transports: nodeTransports,
        order: ['websocket'],
        rememberRung: false,
        backoff: { baseMs: BASE_MS, maxMs: 4 * BASE_MS },
      });
      c.on('state', (s) => {
        if (s === 'reconnecting' && !lostAt.has(c)) lostAt.set(c, performance.now());
        if (s === 'connected' && lostAt.has(c)) arrivalOf.set(c, performance.now());
      });
      clients.push(c);
    }
    await Promise.all(clients.map((c) => c.connect()));

    const restartAt = performance.now();
    await child.kill('SIGTERM'); // graceful: 1001 to every client, then exit
    child = await spawnServer({ PORT: String(port) });
    const upAt = performance.now();
    await until(
      () =>
        clients.every((c) => c.state === 'connected' && (arrivalOf.get(c) ?? 0) >= upAt) ||
        performance.now() - upAt > 14_000,
      'every client back',
    );
    expect(clients.filter((c) => c.state === 'connected' && (arrivalOf.get(c) ?? 0) >= upAt)).toHaveLength(
      CLIENTS,
    );
    const arrivals = clients.map((c) => arrivalOf.get(c) ?? 0);
    const back = clients.map((c) => (arrivalOf.get(c) ?? 0) - (lostAt.get(c) ?? 0));

    // Arrivals at the new server, relative to the moment it listened again: this is what it has to absorb.
    const sorted = arrivals.map((t) => t - upAt).sort((a, b) => a - b);
    const lost = [...back].sort((a, b) => a - b);
    const buckets = new Array<number>(10).fill(0);
    for (const t of sorted) {
      const bucket = Math.max(0, Math.min(9, Math.floor(t / (BASE_MS / 10))));
      buckets[bucket] = (buckets[bucket] ?? 0) + 1;
    }
    const p = (list: number[], q: number) => Math.round(percentile(list, q));
    const ps = (list: number[]) => [0, 10, 50, 90, 100].map((q) => `p${q} ${p(list, q)}`).join(' ');
    console.log(
      `[herd] ${CLIENTS} clients, backoff base ${BASE_MS} ms; server down for ${Math.round(upAt - restartAt)} ms\n` +
        `[herd] loss -> connected ms: ${ps(lost)}\n` +
        `[herd] server up -> arrival ms: ${ps(sorted)}\n` +
        `[herd] arrivals per ${BASE_MS / 10} ms after the server is up (last bucket: later): ${buckets.join(' ')}`,
    );
    // No burst: no tenth of the first backoff window gets half of the clients, and the middle 80 % of the
    // arrivals spans at least a third of the window.
    expect(Math.max(...buckets.slice(0, 9))).toBeLessThan(CLIENTS / 2);
    expect(sorted.filter((t) => t < BASE_MS / 10).length).toBeLessThan(CLIENTS / 2);
    expect(percentile(sorted, 90) - percentile(sorted, 10)).toBeGreaterThan(BASE_MS / 3);
  });
});
