/**
 * Faults with real processes. SIGKILL of the node holding a client, mid-stream both ways (WebSocket and SSE
 * behind nginx): the client lands on the other node; every publish it made is in the topic's history exactly
 * once and in order, every message produced downstream arrives exactly once and in order, with no reset.
 * Redis killed and restarted (a private redis-server, nothing on disk): nodes say so on /rt/health (503) and in
 * their log, refuse new connections with 503 / close code 1013 and close a connection that brings work with
 * 1013 (its publish stays in the client's outbox), recover by themselves when Redis is back, and the client's
 * publish is then applied once; subscribers get an explicit reset because the history is gone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RedisLink } from '../../server/redis/connection.ts';
import { RedisHub } from '../../server/redis/hub.ts';
import { type Client, createClient } from '../../src/client/index.ts';
import { CloseCode } from '../../src/close-codes.ts';
import type { TransportKind } from '../../src/transport.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { until } from '../client/harness.ts';
import { type Cluster, startCluster } from './support/cluster.ts';
import { type Balancer, startNginxBalancer } from './support/nginx-lb.ts';
import { type PrivateRedis, scaleTestHooks, startPrivateRedis } from './support/redis.ts';

const defer = scaleTestHooks();

function client(url: string, rung: TransportKind): Client<{ n: number }> {
  const c = createClient<{ n: number }>({
    url,
    transports: nodeTransports,
    order: [rung],
    rememberRung: false,
    backoff: { baseMs: 100, maxMs: 400 },
  });
  defer(() => c.dispose());
  return c;
}

/** A node of the test's own (in this process) to produce and to read history, on the cluster's keys. */
async function sideNode(cluster: Cluster): Promise<{ link: RedisLink; hub: RedisHub }> {
  const link = new RedisLink({ url: cluster.redisUrl, prefix: cluster.prefix, log: () => undefined });
  await link.start();
  const hub = new RedisHub(link, { historySize: 100_000 });
  defer(async () => {
    await hub.close();
    await link.close();
  });
  return { link, hub };
}

/** Everything in a topic's history, in sequence order. */
async function history(hub: RedisHub, topic: string): Promise<{ seq: number; n: number }[]> {
  const out: { seq: number; n: number }[] = [];
  const sub = await hub.subscribe(topic, 0, (e) => {
    if (e.type === 'msg') out.push({ seq: e.seq, n: (e.data as { n: number }).n });
  });
  sub.unsubscribe();
  return out;
}

const UPSTREAM = 300;

describe.each<TransportKind>(['websocket', 'sse'])('SIGKILL of a node behind nginx, %s client', (rung) => {
  it('lands on the other node; nothing lost or doubled either way', { timeout: 60_000 }, async () => {
    const cluster = await startCluster(2, { env: { HISTORY_SIZE: '100000' } });
    defer(() => cluster.close());
    const balancer: Balancer = await startNginxBalancer(cluster.nodes.map((n) => n.port));
    defer(() => balancer.close());
    const side = await sideNode(cluster);

    const c = client(balancer.url, rung);
    const down: number[] = [];
    const resets: unknown[] = [];
    c.on('message', (m) => down.push(m.seq ?? -1));
    c.on('reset', (r) => resets.push(r));
    c.subscribe('down', { since: 0 });
    await c.connect();

    let produced = 0;
    const producer = setInterval(() => {
      produced++;
      void side.hub.publish('down', { n: produced });
    }, 5);
    defer(() => clearInterval(producer));
    const acks: Promise<void>[] = [];
    let sent = 0;
    const upstream = setInterval(() => {
      if (sent >= UPSTREAM) return clearInterval(upstream);
      sent++;
      acks.push(c.publish('up', { n: sent }));
    }, 5);
    defer(() => clearInterval(upstream));

    await until(() => sent >= UPSTREAM / 3 && down.length >= 50, 'traffic before the kill');
    const stats = await Promise.all(cluster.nodes.map((n) => cluster.stats(n)));
    const holder = cluster.nodes[stats.findIndex((s) => s.active > 0)]!;
    const before = sent;
    await holder.kill('SIGKILL');
    await until(() => sent >= UPSTREAM, 'all sent');
    await Promise.all(acks);
    clearInterval(producer);
    await until(() => c.state === 'connected', 'reconnected');
    await until(() => down.length >= produced, 'caught up downstream');

    const up = await history(side.hub, 'up');
    expect(up.map((m) => m.n)).toEqual(Array.from({ length: UPSTREAM }, (_, i) => i + 1));
    expect(down).toEqual(Array.from({ length: produced }, (_, i) => i + 1));
    expect(resets).toEqual([]);
    expect(before).toBeLessThan(UPSTREAM);
    console.log(
      `[sigkill ${rung}] killed after ${before} up; ${UPSTREAM} up once in order, ${produced} down once in order`,
    );
  });
});

describe('Redis restart', () => {
  let redis: PrivateRedis | undefined;
  afterEach(async () => {
    await redis?.stop();
    redis = undefined;
  });

  it('health 503 + log line, refusals with 1013, recovery by itself, the outbox applied once', {
    timeout: 60_000,
  }, async () => {
    redis = await startPrivateRedis();
    const cluster = await startCluster(2, { redisUrl: redis.url, env: { COMMAND_TIMEOUT_MS: '500' } });
    defer(() => cluster.close());
    const [a, b] = cluster.nodes as [Cluster['nodes'][0], Cluster['nodes'][0]];
    let logA = '';
    a.process.stderr?.on('data', (chunk: Buffer) => {
      logA += chunk.toString();
    });
    const c = client(a.url, 'websocket');
    const closes: number[] = [];
    const got: number[] = [];
    const resets: { seq: number; reason: string }[] = [];
    c.on('message', (m) => got.push(m.data.n));
    c.on('reset', (r) => resets.push(r));
    c.on('state', (s) => {
      if (s === 'reconnecting') closes.push(Date.now());
    });
    c.subscribe('room', { since: 0 });
    await c.connect();
    await c.publish('room', { n: 1 });
    await until(() => got.length === 1, 'first message');

    await redis.kill();
    await until(() => /redis: DOWN/.test(logA), 'outage in the log');
    const health = await fetch(`${a.url}/rt/health`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as { redis: { state: string } }).redis.state).toBe('down');
    // A new connection is refused before it starts, with the retryable code.
    const refused = await fetch(`${b.url}/rt/sse`, { headers: { accept: 'text/event-stream' } });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({
      error: 'ERR_UNAVAILABLE',
      closeCode: CloseCode.TryAgainLater,
    });
    // The connected client brings work: its connection is closed with 1013, the message waits in its outbox.
    let acked = false;
    const pending = c.publish('room', { n: 2 }).then(() => {
      acked = true;
    });
    await until(() => closes.length > 0, 'connection closed for the outage');
    expect(acked).toBe(false);

    await redis.restart();
    await until(() => /redis: UP again/.test(logA), 'recovery in the log');
    expect((await fetch(`${a.url}/rt/health`)).status).toBe(200);
    await pending;
    await until(() => got.includes(2), 'the outbox message delivered');
    // History did not survive (nothing on disk): the client was told, explicitly.
    expect(resets.length).toBeGreaterThan(0);
    expect(got.filter((n) => n === 2)).toHaveLength(1);
    const side = await sideNode(cluster);
    expect((await history(side.hub, 'room')).map((m) => m.n)).toEqual([2]);
    expect(logA).toMatch(/dataset lost/);
  });

  it('a slow Redis (CLIENT PAUSE): 1013, then the re-sent publish is applied once', {
    timeout: 60_000,
  }, async () => {
    redis = await startPrivateRedis();
    const cluster = await startCluster(1, { redisUrl: redis.url, env: { COMMAND_TIMEOUT_MS: '300' } });
    defer(() => cluster.close());
    const [a] = cluster.nodes as [Cluster['nodes'][0]];
    const c = client(a.url, 'websocket');
    const got: number[] = [];
    c.on('message', (m) => got.push(m.data.n));
    c.subscribe('room', { since: 0 });
    await c.connect();
    const { Redis } = await import('ioredis');
    const admin = new Redis(redis.url);
    defer(() => admin.disconnect());
    // Long enough that the node is still waiting on it when the test reads its health.
    await admin.client('PAUSE', 4000, 'ALL');
    const pending = c.publish('room', { n: 7 });
    await until(() => c.state !== 'connected', 'closed while Redis is slow');
    const stats = (await (await fetch(`${a.url}/rt/health`)).json()) as {
      redis: { state: string; lastError: string };
    };
    expect(stats.redis.state).toBe('down');
    await pending;
    await until(() => got.includes(7), 'delivered after the pause');
    const side = await sideNode(cluster);
    expect((await history(side.hub, 'room')).map((m) => m.n)).toEqual([7]);
  });
});
