/**
 * The Redis Cluster engine's per-publish costs, measured beside a single Redis in the same run (a 2-core
 * machine cannot show throughput that grows with shards, so the costs that decide it are measured and the
 * arithmetic is done instead):
 * - spread: how 10,000 topics' publishes land on the shards (each master's EVALSHA calls);
 * - Redis CPU per publish on each shard against the single instance, two ways: commandstats (µs executing the
 *   script) and the process' CPU time (INFO cpu: request parsing, the reply and the SPUBLISH write included),
 *   with a node following every topic. Each shard's topics are published in a round of their own, so one Redis
 *   at a time is busy, as in the single-instance rounds: three busy Redis processes and the node on 2 shared
 *   cores would charge each other's waits to the commands (commandstats is wall time);
 * - round trips per publish (MONITOR on every master: commands the node sent, the script's own left out).
 * Node CPU per delivery on a cluster is bench/scale-fanout.ts pointed at the cluster (see ./scale.ts).
 */
import { Redis } from 'ioredis';
import { RedisLink } from '../server/redis/connection.ts';
import { RedisHub } from '../server/redis/hub.ts';
import { keySlot } from '../server/redis/slot.ts';
import { background, monitor } from './scale-redis.ts';

export interface ShardCost {
  readonly shard: string;
  /** Share of the 10,000 topics' publishes this shard ran. */
  readonly share: number;
  /** µs per publish script: commandstats, and the Redis process' CPU time. */
  readonly usPerPublish: number;
  readonly cpuUsPerPublish: number;
}

export interface ClusterCostResult {
  readonly topics: number;
  readonly rounds: number;
  readonly single: {
    readonly usPerPublish: number;
    readonly cpuUsPerPublish: number;
    readonly roundTripsPerPublish: number;
  };
  readonly shards: readonly ShardCost[];
  readonly roundTripsPerPublish: number;
}

interface Sample {
  readonly calls: number;
  readonly usec: number;
  readonly cpu: number;
}

async function sample(url: string): Promise<Sample> {
  const admin = new Redis(url);
  try {
    const text = `${await admin.info('commandstats')}\n${await admin.info('cpu')}`;
    const line = text.split('\n').find((l) => l.startsWith('cmdstat_evalsha:')) ?? '';
    const seconds = (name: string) => Number(text.match(new RegExp(`${name}:([0-9.]+)`))?.[1] ?? 0);
    return {
      calls: Number(line.match(/calls=(\d+)/)?.[1] ?? 0),
      usec: Number(line.match(/usec=(\d+)/)?.[1] ?? 0),
      cpu: (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1e6,
    };
  } finally {
    admin.disconnect();
  }
}

interface Target {
  readonly hub: RedisHub;
  readonly roundTrips: number;
  readonly close: () => Promise<void>;
}

/** A publishing node and a node following all `names` on `url`; round trips counted on every master. */
async function setUp(
  url: string,
  masters: readonly string[],
  prefix: string,
  names: string[],
): Promise<Target> {
  const publisher = new RedisLink({ url, prefix, log: () => undefined });
  const follower = new RedisLink({ url, prefix, log: () => undefined });
  await Promise.all([publisher.start(), follower.start()]);
  const hub = new RedisHub(publisher);
  const followerHub = new RedisHub(follower);
  for (let i = 0; i < names.length; i += 500) {
    await Promise.all(
      names.slice(i, i + 500).map((t) => followerHub.subscribe(t, undefined, () => undefined)),
    );
  }
  const monitors = await Promise.all(masters.map((m) => monitor(m)));
  await new Promise((resolve) => setTimeout(resolve, 200));
  for (const m of monitors) m.lines.length = 0;
  for (let i = 0; i < 200; i++) await hub.publish(names[i] as string, { i });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const sent = monitors.flatMap((m) => m.lines).filter((l) => l.source !== 'lua' && !background(l));
  for (const m of monitors) m.stop();
  return {
    hub,
    // CLUSTER SLOTS is the link's 5 s slot-map refresh: a timer, left out like the liveness key.
    roundTrips: sent.filter((l) => l.command !== 'cluster').length / 200,
    async close() {
      await Promise.all([hub.close(), followerHub.close()]);
      await Promise.all([publisher.close(), follower.close()]);
    },
  };
}

/** One publish to each of `names` (64 in flight) with `master` the only busy Redis; its cost per call. */
async function round(hub: RedisHub, master: string, names: readonly string[]): Promise<Sample> {
  const before = await sample(master);
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < names.length) {
        const n = next++;
        await hub.publish(names[n] as string, { n, body: 'x'.repeat(48) });
      }
    }),
  );
  const after = await sample(master);
  return { calls: after.calls - before.calls, usec: after.usec - before.usec, cpu: after.cpu - before.cpu };
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

/** Which master serves each name's topic keys (`{name}` is their hash tag). */
async function byMaster(
  masters: readonly string[],
  names: readonly string[],
): Promise<Map<string, string[]>> {
  const admin = new Redis(masters[0] as string);
  const ranges = (await admin.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
  admin.disconnect();
  const out = new Map<string, string[]>(masters.map((m) => [m, []]));
  for (const name of names) {
    const slot = keySlot(`{${name}}`);
    const range = ranges.find(([first, last]) => slot >= first && slot <= last);
    out.get(`redis://${range?.[2][0]}:${range?.[2][1]}`)?.push(name);
  }
  return out;
}

export async function runClusterCost(options: {
  singleUrl: string;
  clusterMasters: readonly string[];
  topics?: number;
  rounds?: number;
}): Promise<ClusterCostResult> {
  const topics = options.topics ?? 10_000;
  const rounds = options.rounds ?? 5;
  const names = Array.from({ length: topics }, (_, i) => `user:${i}`);
  const masters = options.clusterMasters;
  const single = await setUp(options.singleUrl, [options.singleUrl], 'bench-c1', names);
  const cluster = await setUp(masters.join(','), masters, 'bench-cN', names);
  const groups = await byMaster(masters, names);
  // Rounds alternate between the single Redis and the cluster, so drift hits both alike; medians reported.
  const singleRuns: Sample[] = [];
  const shardRuns = new Map<string, Sample[]>(masters.map((m) => [m, []]));
  for (let r = 0; r < rounds; r++) {
    singleRuns.push(await round(single.hub, options.singleUrl, names));
    for (const m of masters) shardRuns.get(m)?.push(await round(cluster.hub, m, groups.get(m) ?? []));
  }
  await Promise.all([single.close(), cluster.close()]);
  const per = (runs: Sample[], field: 'usec' | 'cpu') => median(runs.map((s) => s[field] / s.calls));
  return {
    topics,
    rounds,
    single: {
      usPerPublish: per(singleRuns, 'usec'),
      cpuUsPerPublish: per(singleRuns, 'cpu'),
      roundTripsPerPublish: single.roundTrips,
    },
    shards: masters.map((m) => ({
      shard: m.replace('redis://', ''),
      share: (groups.get(m)?.length ?? 0) / topics,
      usPerPublish: per(shardRuns.get(m) ?? [], 'usec'),
      cpuUsPerPublish: per(shardRuns.get(m) ?? [], 'cpu'),
    })),
    roundTripsPerPublish: cluster.roundTrips,
  };
}
