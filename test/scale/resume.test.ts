/**
 * Moving between nodes. A WebSocket client whose connection to node A dies reconnects to node B and resumes its
 * session there: same session id, its un-acked publishes re-sent and deduplicated on B (applied once in total),
 * its subscription continued by sequence. A client offline for two hours (the nodes' clock moved, no sleep)
 * comes back through another node and receives exactly what it missed on every topic, in order; offline beyond
 * the 24 h history window it receives an explicit `reset` per topic instead, never a silent gap.
 */
import { describe, expect, it } from 'vitest';
import { until } from '../client/harness.ts';
import { SteeringBalancer } from './support/balancer.ts';
import { type Cluster, startCluster } from './support/cluster.ts';
import { scaleTestHooks } from './support/redis.ts';
import { wsClient } from './support/ws-client.ts';

const defer = scaleTestHooks();

const client = (url: string) => wsClient(url, defer);

const HOUR = 3600_000;

describe('moving between nodes', () => {
  it('a WebSocket client reconnecting to another node resumes its session and its dedup', {
    timeout: 30_000,
  }, async () => {
    // A heartbeat longer than the test: the muted connection must not be replaced before the test cuts it.
    const cluster = await startCluster(2, { env: { HEARTBEAT_MS: '15000' } });
    defer(() => cluster.close());
    const [a, b] = cluster.nodes as [Cluster['nodes'][0], Cluster['nodes'][0]];
    const balancer = await SteeringBalancer.start(a.port);
    defer(() => balancer.close());
    const c = client(balancer.url);
    const seen: number[] = [];
    c.on('message', (m) => seen.push(m.data.n));
    c.subscribe('log', { since: 0 });
    await c.connect();
    const session = c.session;
    const acks: Promise<void>[] = [];
    for (let n = 0; n < 50; n++) acks.push(c.publish('log', { n }));
    await Promise.all(acks);
    await until(() => seen.length >= 50, 'first half seen');
    // Acks stop arriving: the next publishes are applied on A but the client never learns it.
    balancer.muteDownstream();
    for (let n = 50; n < 100; n++) acks.push(c.publish('log', { n }));
    let appliedOnA = 0;
    const poll = setInterval(() => {
      void cluster.stats(a).then((s) => {
        appliedOnA = s.applied;
      });
    }, 20);
    await until(() => appliedOnA >= 100, 'A applied all 100 (the last 50 unacknowledged)').finally(() =>
      clearInterval(poll),
    );
    // The path to A dies; the balancer now sends new connections to B.
    balancer.target = b.port;
    balancer.cut();
    await Promise.all(acks);
    await until(() => seen.length >= 100, 'everything seen once');
    expect(c.session).toBe(session);
    expect(seen).toEqual(Array.from({ length: 100 }, (_, n) => n));
    const [statsA, statsB] = await Promise.all([cluster.stats(a), cluster.stats(b)]);
    expect(statsA.applied).toBe(100);
    // B recognised all 50 re-sent messages as duplicates; it ran the (idempotent) default publish for them
    // alongside its claim, which wrote nothing: every message is in the topic once (`seen` above, by sequence).
    expect(statsB.duplicates).toBe(50);
  });

  it('two hours offline: exactly what it missed on every topic, in order; beyond 24 h: reset', {
    timeout: 30_000,
  }, async () => {
    const cluster = await startCluster(2);
    defer(() => cluster.close());
    const [a, b] = cluster.nodes as [Cluster['nodes'][0], Cluster['nodes'][0]];
    const topics = ['orders', 'alerts', 'chat'];
    const publisher = client(a.url);
    await publisher.connect();
    const publishRound = (count: number, from: number) =>
      Promise.all(
        topics.flatMap((t) => Array.from({ length: count }, (_, i) => publisher.publish(t, { n: from + i }))),
      );

    const balancer = await SteeringBalancer.start(a.port);
    defer(() => balancer.close());
    const c = client(balancer.url);
    const got = new Map<string, number[]>(topics.map((t) => [t, []]));
    const resets: { topic: string; seq: number; reason: string }[] = [];
    c.on('message', (m) => got.get(m.topic)?.push(m.seq ?? -1));
    c.on('reset', (r) => resets.push(r));
    for (const t of topics) c.subscribe(t, { since: 0 });
    await c.connect();
    for (let i = 0; i < 10; i++) await publishRound(1, i);
    await until(() => topics.every((t) => got.get(t)!.length === 10), 'online part');

    // Offline: the client cannot reach any node; two hours pass on every node's clock while 20 more arrive.
    balancer.down = true;
    balancer.cut();
    await until(() => c.state !== 'connected', 'client noticed');
    await cluster.setClock(1 * HOUR);
    await publishRound(10, 10);
    await cluster.setClock(2 * HOUR);
    await publishRound(10, 20);
    // Back, through the other node.
    balancer.target = b.port;
    balancer.down = false;
    await until(() => topics.every((t) => got.get(t)!.length === 30), 'caught up');
    for (const t of topics) expect(got.get(t)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(resets).toEqual([]);

    // Offline again, now for 25 hours: what was published meanwhile is older than the window on return.
    balancer.down = true;
    balancer.cut();
    await until(() => c.state !== 'connected', 'client noticed again');
    await publishRound(5, 30);
    await cluster.setClock(27 * HOUR);
    balancer.target = a.port;
    balancer.down = false;
    await until(() => resets.length === topics.length, 'a reset per topic');
    for (const t of topics) {
      expect(resets.find((r) => r.topic === t)).toMatchObject({ seq: 35, reason: 'history-gap' });
      expect(got.get(t)).toHaveLength(30);
    }
    // Live again after the reset: the next message continues from the reset point.
    await publishRound(1, 35);
    await until(() => topics.every((t) => got.get(t)!.length === 31), 'live after reset');
    for (const t of topics) expect(got.get(t)!.at(-1)).toBe(36);
  });
});
