/**
 * Promises that must hold on every node, not per node (issue 16), proved with two real node processes, on one
 * Redis and on a three-master Redis Cluster (started by this file, ./support/redis-cluster.ts):
 * - single use: a token spent on node A is refused on node B, and one presented to A and B at the same moment
 *   admits exactly one connection;
 * - per-session caps: a session's connections count across nodes (the oldest is pushed out with Replaced);
 * - the remembered baseline: a subscription whose first answer was lost is filled on the next connection, on
 *   another node, from where it started: every message in between, in order, no `reset`.
 */
import { randomBytes } from 'node:crypto';
import { Cluster as ClusterClient, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../client/harness.ts';
import { SteeringBalancer } from './support/balancer.ts';
import { type Cluster, startCluster } from './support/cluster.ts';
import { fetchToken, type RawClient, rawClient } from './support/raw.ts';
import { SHARED_REDIS_URL, scaleTestHooks } from './support/redis.ts';
import { type RedisCluster, startRedisCluster } from './support/redis-cluster.ts';
import { wsClient } from './support/ws-client.ts';

const defer = scaleTestHooks();
const TOKEN_SECRET = randomBytes(32).toString('hex');

/** Where the nodes keep what they share. */
interface Backend {
  readonly url: string;
  /** A client of that Redis, for reading what the nodes wrote. */
  reader(): Redis | ClusterClient;
}

const single: Backend = { url: SHARED_REDIS_URL, reader: () => new Redis(SHARED_REDIS_URL) };
let rc: RedisCluster | undefined;
const cluster: Backend = {
  get url() {
    return (rc as RedisCluster).url;
  },
  reader: () =>
    new ClusterClient((rc as RedisCluster).masters.map((m) => ({ host: '127.0.0.1', port: m.port }))),
};

function track(client: RawClient): RawClient {
  defer(() => client.close());
  return client;
}

const client = (url: string) => wsClient(url, defer);

function guarantees(backend: Backend): void {
  async function start(count: number, env: Record<string, string> = {}): Promise<Cluster> {
    const nodes = await startCluster(count, { redisUrl: backend.url, env: { TOKEN_SECRET, ...env } });
    defer(() => nodes.close());
    return nodes;
  }

  describe('single use is cluster-wide', () => {
    it('a token spent on node A is refused on A and on B', { timeout: 30_000 }, async () => {
      const nodes = await start(2);
      const [a, b] = nodes.nodes as [Cluster['nodes'][0], Cluster['nodes'][0]];
      // Issued by B, spent on A: any node verifies any node's token (shared secret).
      const token = await fetchToken(b.url);
      expect((await track(await rawClient(a.url, { token })).answer()).type).toBe('welcome');
      for (const node of [a, b]) {
        const replay = track(await rawClient(node.url, { token }));
        expect(await replay.answer()).toMatchObject({
          type: 'error',
          message: 'token already used (replay)',
        });
        expect(await replay.closed).toBe(4001);
      }
      const [statsA, statsB] = await Promise.all([nodes.stats(a), nodes.stats(b)]);
      expect(statsA.replay).toMatchObject({ spent: 1, replays: 1 });
      expect(statsB.replay).toMatchObject({ spent: 0, replays: 1 });
    });

    it('the same token presented to A and B at the same moment admits exactly one', {
      timeout: 30_000,
    }, async () => {
      const nodes = await start(2);
      const [a, b] = nodes.nodes as [Cluster['nodes'][0], Cluster['nodes'][0]];
      const tokens = await Promise.all(Array.from({ length: 25 }, () => fetchToken(a.url)));
      // Both sockets open first, then both hellos leave back to back: the two verifications overlap.
      const pairs = await Promise.all(
        tokens.map(async (token) => {
          const [x, y] = await Promise.all([rawClient(a.url, { token }), rawClient(b.url, { token })]);
          return [track(x), track(y)] as const;
        }),
      );
      const answers = await Promise.all(
        pairs.map(async ([x, y]) => [(await x.answer()).type, (await y.answer()).type].sort()),
      );
      for (const answer of answers) expect(answer).toEqual(['error', 'welcome']);
      const [statsA, statsB] = await Promise.all([nodes.stats(a), nodes.stats(b)]);
      expect(statsA.replay.spent + statsB.replay.spent).toBe(25);
      expect(statsA.replay.replays + statsB.replay.replays).toBe(25);
    });
  });

  describe('per-session caps count across nodes', () => {
    it("a session's connections are capped across nodes: the oldest, wherever it is, is pushed out (Replaced)", {
      timeout: 30_000,
    }, async () => {
      const nodes = await start(2, { TOKEN_SECRET: '' });
      const [a, b] = nodes.nodes as [Cluster['nodes'][0], Cluster['nodes'][0]];
      const first = track(await rawClient(a.url));
      const session = (await first.answer()).session as string;
      // Default cap: 3 connections per session. Alternate nodes; none of them holds more than two.
      const opened = [first];
      for (const node of [b, a, b]) {
        const next = track(await rawClient(node.url, { session }));
        expect(await next.answer()).toMatchObject({ type: 'welcome', session, resumed: true });
        opened.push(next);
      }
      // The fourth (on B) pushed out the first (on A), told over A's channel.
      expect(await opened[0]!.closed).toBe(4009);
      const fifth = track(await rawClient(a.url, { session }));
      expect(await fifth.answer()).toMatchObject({ type: 'welcome', session });
      expect(await opened[1]!.closed).toBe(4009);
      // The three newest stay: each still answers a ping.
      for (const client of [opened[2]!, opened[3]!, fifth]) {
        client.send({ type: 'ping', id: 7 });
        await client.waitFor('pong', (inbox) => inbox.some((e) => e.type === 'pong'));
      }
    });
  });

  describe('the remembered baseline', () => {
    it('a subscription whose first answer was lost is filled on another node from where it started: no reset, nothing skipped', {
      timeout: 30_000,
    }, async () => {
      // A heartbeat longer than the test: the muted link must not be replaced before the test cuts it.
      const nodes = await start(2, { TOKEN_SECRET: '', HEARTBEAT_MS: '15000' });
      const [a, b] = nodes.nodes as [Cluster['nodes'][0], Cluster['nodes'][0]];
      const publisher = client(b.url);
      await publisher.connect();
      for (let n = 0; n < 5; n++) await publisher.publish('news', { n });
      const balancer = await SteeringBalancer.start(a.port);
      defer(() => balancer.close());
      const c = client(balancer.url);
      const seen: number[] = [];
      const resets: string[] = [];
      c.on('message', (m) => seen.push(m.data.n));
      c.on('reset', (r) => resets.push(r.reason));
      await c.connect();
      // The server's answers stop arriving; the subscription goes out, A answers it into the void.
      balancer.muteDownstream();
      const subscription = c.subscribe('news');
      const redis = backend.reader();
      defer(() => redis.disconnect());
      const record = () => redis.hget(`${nodes.prefix}:sessb:{${c.session}}`, 'news');
      let remembered: string | null = null;
      await until(() => {
        void record().then((value) => {
          remembered = value;
        });
        return remembered !== null;
      }, 'A remembered where the subscription started');
      expect(String(remembered)).toMatch(/^5\|/);
      expect(subscription.lastSeq).toBeUndefined();
      // Published after the subscription started, while its answer is lost: these must all arrive.
      for (let n = 5; n < 15; n++) await publisher.publish('news', { n });
      // The path to A dies; the client's next connection lands on B, same session.
      balancer.target = b.port;
      balancer.cut();
      await until(() => seen.length >= 10, 'everything since the baseline');
      for (let n = 15; n < 18; n++) await publisher.publish('news', { n });
      await until(() => seen.length >= 13, 'live after the fill');
      expect(seen).toEqual(Array.from({ length: 13 }, (_, i) => i + 5));
      expect(resets).toEqual([]);
      expect(subscription.lastSeq).toBe(18);
    });
  });
}

describe('on one Redis', () => guarantees(single));

describe('on a 3-master Redis Cluster', () => {
  beforeAll(async () => {
    rc = await startRedisCluster(3);
  }, 60_000);
  afterAll(() => rc?.stop());
  guarantees(cluster);
});
