/**
 * switchyard on a real Redis Cluster (three masters started by the test, ./support/redis-cluster.ts) under two
 * node processes, REDIS_URL listing the seeds and nothing else set. Topics spread over the shards; what one
 * node's clients publish, the other node's clients get once each, in order. A shard restarted mid-stream (its
 * data gone): the nodes say so (log, /rt/health), refuse that shard's topics with the retryable 1013 while the
 * other shards' topics flow on, recover by themselves, and a subscriber of a lost topic gets one explicit reset,
 * nothing twice. A reshard of the slots under live topics while publishing: MOVED/ASK followed, the channels
 * followed to their new shard, every message once, in order, no reset. A master failing over to its replica
 * (a cluster with one replica per master): the topic follows the slot to the promoted replica, nothing twice.
 *
 * Sessions are the Redis session store, whose keys share one hash tag per session (clients may land on
 * either node). Presence on the cluster: members of topics on every shard, joins and leaves seen across nodes.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLink } from '../../server/redis/connection.ts';
import { RedisForwarder } from '../../server/redis/forward.ts';
import { RedisHub } from '../../server/redis/hub.ts';
import { keySlot } from '../../server/redis/slot.ts';
import { type Client, createClient, type PresenceEvent } from '../../src/client/index.ts';
import { isSwitchyardError } from '../../src/errors.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { until } from '../client/harness.ts';
import type { ServerChild } from '../resilience/support/child.ts';
import { type Cluster, startCluster } from './support/cluster.ts';
import { scaleTestHooks } from './support/redis.ts';
import { type RedisCluster, startRedisCluster } from './support/redis-cluster.ts';

const defer = scaleTestHooks();
let rc: RedisCluster;

beforeAll(async () => {
  rc = await startRedisCluster(3);
}, 60_000);
afterAll(() => rc?.stop());

interface Follower {
  readonly client: Client<{ n: number }>;
  /** Per topic: every message (seq) and reset (`R<seq>`) in arrival order. */
  readonly seen: Map<string, (number | string)[]>;
}

function follow(node: ServerChild, topics: readonly string[]): Follower {
  const client = createClient<{ n: number }>({
    url: node.url,
    transports: nodeTransports,
    order: ['websocket'],
    rememberRung: false,
    backoff: { baseMs: 100, maxMs: 400 },
  });
  defer(() => client.dispose());
  const seen = new Map<string, (number | string)[]>(topics.map((t) => [t, []]));
  client.on('message', (m) => seen.get(m.topic)?.push(m.seq ?? -1));
  client.on('reset', (r) => seen.get(r.topic)?.push(`R${r.seq}`));
  for (const topic of topics) client.subscribe(topic, { since: 0 });
  return { client, seen };
}

async function nodes(count: number): Promise<Cluster> {
  const cluster = await startCluster(count, { redisUrl: rc.url });
  defer(() => cluster.close());
  return cluster;
}

/** A producer in the test process on the cluster's keys: publishes until stopped, retrying refusals once each. */
async function producer(cluster: Cluster, topics: readonly string[]) {
  const link = new RedisLink({ url: rc.url, prefix: cluster.prefix, log: () => undefined });
  await link.start();
  const hub = new RedisHub(link, { historySize: 100_000 });
  defer(() => link.close());
  /** Successful publishes per topic, and the sequence number the last one got. */
  const published = new Map<string, number>(topics.map((t) => [t, 0]));
  const lastSeq = new Map<string, number>(topics.map((t) => [t, 0]));
  const refused = new Map<string, number>(topics.map((t) => [t, 0]));
  let running = true;
  const loops = topics.map(async (topic) => {
    for (let n = 1; running; ) {
      try {
        // The idempotency key makes a retried publish (its answer lost) write once.
        lastSeq.set(topic, await hub.publish(topic, { n }, { idempotencyKey: `${topic}:${n}` }));
        published.set(topic, n);
        n++;
      } catch (error) {
        if (!isSwitchyardError(error, 'ERR_UNAVAILABLE')) throw error;
        refused.set(topic, (refused.get(topic) ?? 0) + 1);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });
  return {
    link,
    /** The topic's head now (read from its shard). */
    head: (topic: string) => hub.head(topic),
    published,
    lastSeq,
    refused,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Topic names whose hash tag lands on master `index` (optionally only in slots below `below`). */
async function topicsOn(index: number, count: number, below = 16384): Promise<string[]> {
  const ranges = await rc.slotsOf(index);
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    const topic = `t${index}-${i}`;
    const slot = keySlot(`{${topic}}`);
    if (slot < below && ranges.some(([first, last]) => slot >= first && slot <= last)) out.push(topic);
  }
  return out;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('switchyard on a 3-master Redis Cluster, two nodes', () => {
  it('detects the cluster from the seeds; topics on every shard, delivered across nodes once in order', {
    timeout: 60_000,
  }, async () => {
    const cluster = await nodes(2);
    const [a, b] = cluster.nodes as [ServerChild, ServerChild];
    const health = (await (await fetch(`${b.url}/rt/health`)).json()) as {
      redis: { mode: string; shards: { slots: number; state: string }[] };
    };
    expect(health.redis.mode).toBe('cluster');
    expect(health.redis.shards.map((s) => s.state)).toEqual(['up', 'up', 'up']);
    const topics = [...(await topicsOn(0, 2)), ...(await topicsOn(1, 2)), ...(await topicsOn(2, 2))];
    const reader = follow(b, topics);
    const writer = follow(a, []);
    await Promise.all([reader.client.connect(), writer.client.connect()]);
    await Promise.all(topics.flatMap((t) => range(1, 30).map((n) => writer.client.publish(t, { n }))));
    for (const t of topics) await until(() => (reader.seen.get(t)?.length ?? 0) >= 30, `${t} delivered`);
    for (const t of topics) expect(reader.seen.get(t), t).toEqual(range(1, 30));
  });

  it('presence on topics of every shard: joins and leaves seen across nodes', {
    timeout: 60_000,
  }, async () => {
    const cluster = await nodes(2);
    const [a, b] = cluster.nodes as [ServerChild, ServerChild];
    // Topics starting with `}` have no usable hash tag of their own: their presence hash and channel must still share a slot.
    const topics = [
      ...(await topicsOn(0, 2)),
      ...(await topicsOn(1, 2)),
      ...(await topicsOn(2, 2)),
      '}a',
      '}b',
      '}c',
      '}d',
    ];
    const make = (url: string) =>
      createClient({ url, transports: nodeTransports, order: ['websocket'], rememberRung: false });
    const alice = make(a.url);
    const bob = make(b.url);
    defer(() => alice.dispose());
    defer(() => bob.dispose());
    const seen: PresenceEvent[] = [];
    alice.on('presence', (e) => seen.push(e));
    for (const t of topics) alice.subscribe(t, { presence: true });
    await alice.connect();
    await until(() => seen.length === topics.length, 'alice sees her own joins');
    for (const t of topics) bob.subscribe(t, { info: { name: 'bob' } });
    await bob.connect();
    await until(() => seen.length === 2 * topics.length, "bob's joins on node B reach alice on node A");
    for (const t of topics) expect(await alice.presence(t), t).toHaveLength(2);
    bob.close();
    await until(() => seen.length === 3 * topics.length, "bob's leaves reach alice");
    expect(
      seen
        .filter((e) => e.action === 'leave')
        .map((e) => e.topic)
        .sort(),
    ).toEqual([...topics].sort());
    for (const t of topics) expect(await alice.presence(t), t).toHaveLength(1);
  });

  it('SSE upstream batches forwarded between nodes over sharded pub/sub; a gone owner known at once', async () => {
    const links = [0, 1].map(() => new RedisLink({ url: rc.masters[2]?.url ?? '', log: () => undefined }));
    for (const link of links) {
      await link.start();
      defer(() => link.close());
    }
    const [a, b] = links.map((link) => new RedisForwarder(link)) as [RedisForwarder, RedisForwarder];
    await Promise.all([a.start(), b.start()]);
    const applied: string[] = [];
    b.serve((request) => {
      applied.push(`${request.batch}:${Buffer.from(request.body ?? []).toString()}`);
      return { status: 204 };
    });
    const request = { session: `${b.nodeId}.x`, secret: 's', body: new TextEncoder().encode('hi') };
    expect(await a.forward(b.nodeId, { ...request, batch: '1' })).toEqual({ status: 204 });
    expect(await a.forward(b.nodeId, { ...request, batch: '2' })).toEqual({ status: 204 });
    expect(applied).toEqual(['1:hi', '2:hi']);
    expect(links[0]?.sharded).toBe(true);
    expect((await a.forward('gone-node', { ...request, batch: '3' })).status).toBe(404);
  });

  it('a shard restarted mid-stream: reported, its topics refused (1013) then reset, the others untouched', {
    timeout: 90_000,
  }, async () => {
    const cluster = await nodes(2);
    const [, b] = cluster.nodes as [ServerChild, ServerChild];
    let logB = '';
    b.process.stderr?.on('data', (chunk: Buffer) => {
      logB += chunk.toString();
    });
    const [lost] = await topicsOn(0, 1);
    const [kept] = await topicsOn(1, 1);
    if (!lost || !kept) throw new Error('no topics');
    const onLost = follow(b, [lost]);
    const onKept = follow(b, [kept]);
    await Promise.all([onLost.client.connect(), onKept.client.connect()]);
    const produce = await producer(cluster, [lost, kept]);
    await until(() => (onKept.seen.get(kept)?.length ?? 0) >= 20, 'traffic before the restart');

    await rc.kill(0);
    await until(() => /redis: shard 127\.0\.0\.1:\d+ DOWN/.test(logB), 'the outage in the log');
    const during = await fetch(`${b.url}/rt/health`);
    const report = (await during.json()) as { ok: boolean; redis: { shardsDown: number } };
    expect(report.redis.shardsDown).toBe(1);
    expect(during.status).toBe(200); // the other shards are served: the balancer keeps the node
    const keptBefore = onKept.seen.get(kept)?.length ?? 0;
    await until(() => (onKept.seen.get(kept)?.length ?? 0) >= keptBefore + 20, 'the other shard flows on');
    await until(() => (produce.refused.get(lost) ?? 0) > 0, 'the lost shard refuses publishes');
    // A client bringing work for the lost shard's topic: closed with 1013, its publish kept in its outbox.
    const writer = follow(b, []);
    await writer.client.connect();
    let closed = false;
    writer.client.on('state', (state) => {
      if (state === 'reconnecting') closed = true;
    });
    const outbox = writer.client.publish(lost, { n: -1 });
    await until(() => closed, 'the writer closed with 1013');

    await rc.restart(0);
    await rc.waitOk();
    await until(() => /redis: shard 127\.0\.0\.1:\d+ UP again/.test(logB), 'recovery in the log');
    const lostAt = produce.published.get(lost) ?? 0;
    await until(
      () => (produce.published.get(lost) ?? 0) >= lostAt + 20,
      'the lost shard takes publishes again',
    );
    await outbox;
    await produce.stop();
    const heads = new Map([
      [lost, await produce.head(lost)],
      [kept, await produce.head(kept)],
    ]);
    const last = (t: string) => heads.get(t) ?? 0;
    await until(() => onKept.seen.get(kept)?.at(-1) === last(kept), 'kept topic caught up');
    await until(() => onLost.seen.get(lost)?.at(-1) === last(lost), 'lost topic caught up');

    // The shard lost its data: its topic's numbering restarted, announced by one reset; nothing twice.
    const seenLost = onLost.seen.get(lost) ?? [];
    const reset = seenLost.findIndex((e) => typeof e === 'string');
    expect(reset).toBeGreaterThan(0);
    const before = seenLost.slice(0, reset);
    const after = seenLost.slice(reset + 1);
    expect(before).toEqual(range(1, before.length));
    expect(seenLost[reset]).toMatch(/^R\d+$/);
    const from = Number(String(seenLost[reset]).slice(1));
    expect(after).toEqual(range(from + 1, last(lost)));
    expect(onKept.seen.get(kept)).toEqual(range(1, last(kept)));
    const sides = new RedisHub(produce.link);
    const history: number[] = [];
    (
      await sides.subscribe(lost, 0, (e) => e.type === 'msg' && history.push((e.data as { n: number }).n))
    ).unsubscribe();
    expect(history.filter((n) => n === -1)).toHaveLength(1);
    const stats = await cluster.stats(b);
    console.log(
      `[cluster shard restart] kept topic ${last(kept)} msgs in order, no reset; lost topic ${before.length} then reset at ${from}, ${after.length} more; ${produce.refused.get(lost)} publishes refused during the outage, the client's applied once after; node outages ${stats.redis.outages}`,
    );
  });

  it('a master failing over to its replica mid-stream: the topic follows it to the new master, nothing twice', {
    timeout: 90_000,
  }, async () => {
    const withReplicas = await startRedisCluster(3, 1);
    defer(() => withReplicas.stop());
    const cluster = await startCluster(2, { redisUrl: withReplicas.url });
    defer(() => cluster.close());
    const [, b] = cluster.nodes as [ServerChild, ServerChild];
    let logB = '';
    b.process.stderr?.on('data', (chunk: Buffer) => {
      logB += chunk.toString();
    });
    const ranges = await withReplicas.slotsOf(0);
    let topic = '';
    for (let i = 0; !topic; i++) {
      const slot = keySlot(`{f${i}}`);
      if (ranges.some(([first, last]) => slot >= first && slot <= last)) topic = `f${i}`;
    }
    const reader = follow(b, [topic]);
    await reader.client.connect();
    const link = new RedisLink({ url: withReplicas.url, prefix: cluster.prefix, log: () => undefined });
    await link.start();
    defer(() => link.close());
    const hub = new RedisHub(link);
    let running = true;
    let paused = false;
    let idle = false;
    let published = 0;
    const loop = (async () => {
      for (let n = 1; running; ) {
        idle = paused;
        if (paused) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          continue;
        }
        await hub.publish(topic, { n }, { idempotencyKey: `${topic}:${n}` }).then(
          () => {
            published = n;
            n++;
          },
          () => undefined,
        );
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    await until(() => published >= 20, 'traffic before the failover');
    const old = await withReplicas.masterOf(`{${topic}}`);
    // Replication is asynchronous: writes the replica has not got yet are lost with the master (its counter
    // would step back). Wait until it has them all (WAIT), so the test checks the failover, not that loss.
    paused = true;
    await until(() => idle, 'publisher paused');
    const admin = new Redis(old.url);
    await admin.wait(1, 5000);
    admin.disconnect();
    await withReplicas.kill(0);
    paused = false;
    // The replica is promoted after cluster-node-timeout (1.5 s) and an election.
    for (let i = 0; (await withReplicas.masterOf(`{${topic}}`).catch(() => old)).port === old.port; i++) {
      if (i > 300) throw new Error('no failover within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const at = published;
    await until(() => published >= at + 20, 'publishing on the new master');
    running = false;
    await loop;
    const head = await hub.head(topic);
    await until(() => reader.seen.get(topic)?.at(-1) === head, 'caught up');
    const seen = reader.seen.get(topic) ?? [];
    const seqs = seen.filter((e) => typeof e === 'number');
    const resets = seen.filter((e) => typeof e === 'string');
    expect(resets).toEqual([]);
    expect(seqs).toEqual(range(1, head));
    expect(logB).toMatch(/redis: shard 127\.0\.0\.1:\d+ DOWN/);
    console.log(
      `[cluster failover] master ${old.port} killed, its replica promoted: ${head} messages once each in order, no reset`,
    );
  });

  it('a reshard under live topics while publishing: every message once, in order, no reset', {
    timeout: 90_000,
  }, async () => {
    await rc.waitOk();
    const cluster = await nodes(2);
    const [, b] = cluster.nodes as [ServerChild, ServerChild];
    let logB = '';
    b.process.stderr?.on('data', (chunk: Buffer) => {
      logB += chunk.toString();
    });
    // Topics in master 1's lowest slots: `reshard` moves a source's slots from the bottom of its range.
    const from = 1;
    const SLOTS_MOVED = 300;
    const [first] = (await rc.slotsOf(from))[0] ?? [0];
    const moving = await topicsOn(from, 4, first + SLOTS_MOVED);
    const reader = follow(b, moving);
    await reader.client.connect();
    const produce = await producer(cluster, moving);
    await until(() => moving.every((t) => (produce.published.get(t) ?? 0) >= 10), 'traffic before the move');
    const owners = await Promise.all(moving.map((t) => rc.masterOf(`{${t}}`)));
    await rc.reshard(from, 2, SLOTS_MOVED);
    await rc.waitOk();
    const moved = await Promise.all(moving.map((t) => rc.masterOf(`{${t}}`)));
    expect(moved.map((m) => m.port)).not.toEqual(owners.map((m) => m.port));
    const atMove = Math.min(...moving.map((t) => produce.published.get(t) ?? 0));
    await until(() => moving.every((t) => (produce.published.get(t) ?? 0) >= atMove + 20), 'traffic after');
    await produce.stop();
    // Redis unsubscribed the moved slots' channels on master 1; the node followed them to master 2.
    await until(() => /channel\(s\) followed to/.test(logB), 'channels followed to their new shard');
    for (const t of moving) {
      const last = produce.lastSeq.get(t) ?? 0;
      await until(() => reader.seen.get(t)?.at(-1) === last, `${t} caught up`);
      expect(reader.seen.get(t), t).toEqual(range(1, last));
    }
    console.log(
      `[cluster reshard] ${moving.length} topics moved from master ${from} to 2 while publishing: ${moving.map((t) => produce.published.get(t)).join('/')} messages once each in order; publishes retried: ${[...produce.refused.values()].reduce((s, n) => s + n, 0)}; node: ${logB.match(/\d+ channel\(s\) followed to/g)?.join(', ')}`,
    );
  });
});
