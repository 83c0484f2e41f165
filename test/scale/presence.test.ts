/**
 * Presence across real node processes on Redis: a client on node A sees a client on node B join and leave (the
 * `join`/`leave` events and `client.presence()` agree), over WebSocket and SSE alike; and a node killed with
 * SIGKILL takes its clients out of everyone's presence within the documented bound (3 x livenessMs +
 * sweepMs, 4 s with the defaults these nodes run), announced as `leave` on the surviving nodes.
 */
import { describe, expect, it } from 'vitest';
import { type Client, createClient, type PresenceEvent } from '../../src/client/index.ts';
import type { TransportKind } from '../../src/transport.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { until } from '../client/harness.ts';
import { startCluster } from './support/cluster.ts';
import { scaleTestHooks } from './support/redis.ts';

const defer = scaleTestHooks();
/** Liveness key TTL (3 x 1000 ms) plus one sweep (1000 ms): the defaults of RedisLink and RedisPresence. */
const DEAD_NODE_BOUND_MS = 4000;

function client(url: string, rung: TransportKind): Client {
  const c = createClient({
    url,
    transports: nodeTransports,
    order: [rung],
    rememberRung: false,
    // Reconnecting elsewhere would put the killed node's client back: it must stay gone for the test.
    backoff: { baseMs: 100, maxMs: 400, maxAttempts: 1 },
  });
  defer(() => c.dispose());
  return c;
}

function watch(c: Client, topic: string): PresenceEvent[] {
  const seen: PresenceEvent[] = [];
  c.on('presence', (event) => {
    if (event.topic === topic) seen.push(event);
  });
  return seen;
}

describe('presence across nodes', () => {
  it.each<TransportKind>(['websocket', 'sse'])(
    'a join and a leave on node B are seen on node A (%s)',
    { timeout: 30_000 },
    async (rung) => {
      const cluster = await startCluster(2);
      defer(() => cluster.close());
      const [a, b] = cluster.nodes;
      const alice = client(a!.url, rung);
      const seen = watch(alice, 'room');
      alice.subscribe('room', { presence: true, info: { name: 'alice' } });
      await alice.connect();
      await until(() => seen.length === 1, 'alice sees herself join');
      const mine = seen[0]!.client.client;

      const bob = client(b!.url, rung);
      bob.subscribe('room', { info: { name: 'bob' } });
      await bob.connect();
      await until(() => seen.length === 2, 'alice sees bob join');
      expect(seen[1]).toMatchObject({ action: 'join', topic: 'room', client: { info: { name: 'bob' } } });
      const members = await alice.presence('room');
      expect(members.map((m) => m.info?.name).sort()).toEqual(['alice', 'bob']);
      expect(members.find((m) => m.info?.name === 'alice')?.client).toBe(mine);
      // Bob reads the same list from the other node.
      expect((await bob.presence('room')).map((m) => m.client).sort()).toEqual(
        members.map((m) => m.client).sort(),
      );

      bob.close();
      await until(() => seen.length === 3, 'alice sees bob leave');
      expect(seen[2]).toMatchObject({ action: 'leave', client: { info: { name: 'bob' } } });
      expect((await alice.presence('room')).map((m) => m.info?.name)).toEqual(['alice']);
    },
  );

  it("a SIGKILLed node's clients leave everyone's presence within the bound", {
    timeout: 30_000,
  }, async () => {
    const cluster = await startCluster(2);
    defer(() => cluster.close());
    const [a, b] = cluster.nodes;
    const alice = client(a!.url, 'websocket');
    const seen = watch(alice, 'room');
    alice.subscribe('room', { presence: true });
    await alice.connect();
    const doomed = [client(b!.url, 'websocket'), client(b!.url, 'sse')];
    for (const c of doomed) {
      c.subscribe('room');
      await c.connect();
    }
    await until(() => seen.filter((e) => e.action === 'join').length === 3, 'three joins');
    expect(await alice.presence('room')).toHaveLength(3);

    const killed = Date.now();
    await b!.kill('SIGKILL');
    await until(() => seen.filter((e) => e.action === 'leave').length === 2, 'two leaves');
    const elapsed = Date.now() - killed;
    expect((await alice.presence('room')).map((m) => m.client)).toEqual([seen[0]!.client.client]);
    // The bound, plus slack for two shared cores; a store without the dead-node purge never gets here at all.
    expect(elapsed).toBeLessThan(DEAD_NODE_BOUND_MS + 3000);
  });
});
