/**
 * What Redis does per message, counted with MONITOR on a private redis-server (so nobody else's commands are
 * in the count): round trips per hub publish (target: one EVALSHA; the commands the script runs inside Redis
 * are listed separately), commands per client `pub` through a node (session dedup claim and publish, sent
 * together, then the outcome),
 * and how many publish scripts one process gets through per second with a window in flight.
 */
import { Redis } from 'ioredis';
import { RedisLink } from '../server/redis/connection.ts';
import { RedisHub } from '../server/redis/hub.ts';
import { RedisSessionStore } from '../server/redis/sessions.ts';
import { createClient } from '../src/client/index.ts';
import { startCluster } from '../test/scale/support/cluster.ts';
import { nodeTransports } from '../transports/index.node.ts';

export interface RedisCostResult {
  /** Commands a node sent per hub publish (round trips), and what they were. */
  readonly roundTripsPerPublish: number;
  readonly publishCommands: Record<string, number>;
  /** Commands run inside Redis by the script, per publish. */
  readonly scriptCommandsPerPublish: Record<string, number>;
  /** Commands a node sent per client `pub` (dedup claim + publish, sent together, + outcome after the ack). */
  readonly roundTripsPerClientPub: number;
  readonly clientPubCommands: Record<string, number>;
  /** Hub publishes per second from one process, 64 in flight. */
  readonly publishesPerSecond: number;
  /** Redis' own CPU per publish script (INFO commandstats usec per EVALSHA call). */
  readonly redisUsPerPublish: number;
  /** Redis memory per history entry (64 B of data) and per channel a node subscribes to, bytes. */
  readonly bytesPerHistoryEntry: number;
  readonly bytesPerChannel: number;
  /** Redis memory per remembered client message id in a session's dedup window, bytes. */
  readonly bytesPerDedupId: number;
}

interface Monitored {
  readonly source: string;
  readonly command: string;
  readonly args: string[];
}

export async function monitor(url: string): Promise<{ lines: Monitored[]; stop: () => void }> {
  const redis = new Redis(url);
  const m = await redis.monitor();
  const lines: Monitored[] = [];
  m.on('monitor', (_time: string, args: string[], source: string) => {
    lines.push({ source, command: String(args[0]).toLowerCase(), args: args.slice(1).map(String) });
  });
  return {
    lines,
    stop: () => {
      m.disconnect();
      redis.disconnect();
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 200));

function histogram(lines: Monitored[], per: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of lines) out[line.command] = (out[line.command] ?? 0) + 1;
  for (const key of Object.keys(out)) out[key] = Math.round(((out[key] as number) / per) * 100) / 100;
  return out;
}

/** Liveness and session keep-alive run on timers, not per message: left out of the per-message counts. */
export const background = (line: Monitored) =>
  (line.command === 'set' && line.args[0]?.includes(':node:')) ||
  line.command === 'pexpire' ||
  line.command === 'ping';

export async function runRedisCost(options: { redisUrl: string; prefix: string }): Promise<RedisCostResult> {
  const N = 200;
  const link = new RedisLink({ url: options.redisUrl, prefix: options.prefix, log: () => undefined });
  await link.start();
  const hub = new RedisHub(link);
  const m = await monitor(options.redisUrl);
  await settle();
  m.lines.length = 0;
  for (let i = 0; i < N; i++) await hub.publish('rt', { i }, { idempotencyKey: `s/${i}` });
  await settle();
  const fromClient = m.lines.filter((l) => l.source !== 'lua' && !background(l));
  const fromScript = m.lines.filter((l) => l.source === 'lua');
  const publishCommands = histogram(fromClient, N);
  const scriptCommandsPerPublish = histogram(fromScript, N);
  const roundTripsPerPublish = fromClient.length / N;

  // Throughput of the publish script from one process, and what it costs Redis itself.
  const admin = new Redis(options.redisUrl);
  const evalsha = async () => {
    const line =
      (await admin.info('commandstats')).split('\n').find((l) => l.startsWith('cmdstat_evalsha:')) ?? '';
    return {
      calls: Number(/calls=(\d+)/.exec(line)?.[1] ?? 0),
      usec: Number(/usec=(\d+)/.exec(line)?.[1] ?? 0),
    };
  };
  const before = await evalsha();
  const total = 20_000;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < total) {
        next++;
        await hub.publish('rate', { n: next });
      }
    }),
  );
  const publishesPerSecond = total / ((performance.now() - t0) / 1000);
  const after = await evalsha();
  const redisUsPerPublish = (after.usec - before.usec) / (after.calls - before.calls);

  // Memory: 10,000 history entries of 64 B data on one topic; 20,000 channels subscribed by one connection.
  const used = async () => Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1] ?? 0);
  const bigHub = new RedisHub(link, { historySize: 100_000 });
  const mem0 = await used();
  for (let i = 0; i < 10_000; i += 100) {
    await Promise.all(Array.from({ length: 100 }, () => bigHub.publish('mem', { body: 'x'.repeat(50) })));
  }
  const bytesPerHistoryEntry = ((await used()) - mem0) / 10_000;
  const subscriber = new Redis(options.redisUrl);
  const mem1 = await used();
  const channels = Array.from({ length: 20_000 }, (_, i) => `${options.prefix}:chan:user-${i}`);
  for (let i = 0; i < channels.length; i += 1000) await subscriber.subscribe(...channels.slice(i, i + 1000));
  const bytesPerChannel = ((await used()) - mem1) / channels.length;
  subscriber.disconnect();
  // A session that remembers 4,096 message ids (the default window), ids as the client makes them.
  const sessions = new RedisSessionStore(link);
  const { session } = await sessions.attach(undefined, { replace: () => undefined });
  const mem2 = await used();
  for (let i = 0; i < 4096; i += 64) {
    await Promise.all(
      Array.from({ length: 64 }, (_, k) =>
        Promise.resolve(session.dedup(`${crypto.randomUUID()}-${i + k}`, async () => ({ ok: true }))).then(
          (d) => d.outcome,
        ),
      ),
    );
  }
  await settle();
  const bytesPerDedupId = ((await used()) - mem2) / 4096;
  sessions.clear();
  admin.disconnect();
  await hub.close();
  await link.close();

  // A client's reliable publish through a node process.
  const cluster = await startCluster(1, { redisUrl: options.redisUrl });
  const client = createClient({
    url: cluster.nodes[0]!.url,
    transports: nodeTransports,
    order: ['websocket'],
  });
  await client.connect();
  await client.publish('warm', 0);
  await settle();
  m.lines.length = 0;
  for (let i = 0; i < N; i++) await client.publish('rt2', { i });
  await settle();
  const pubLines = m.lines.filter((l) => l.source !== 'lua' && !background(l));
  client.dispose();
  await cluster.close();
  m.stop();
  return {
    roundTripsPerPublish,
    publishCommands,
    scriptCommandsPerPublish,
    roundTripsPerClientPub: pubLines.length / N,
    clientPubCommands: histogram(pubLines, N),
    publishesPerSecond,
    redisUsPerPublish,
    bytesPerHistoryEntry,
    bytesPerChannel,
    bytesPerDedupId,
  };
}
