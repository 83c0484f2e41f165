/**
 * What one present client costs: Node heap per member in MemoryPresence and in RedisPresence (the node's own
 * copy of its members, kept to write them again after an outage), Redis memory per member (the topic hash
 * entry; the per-node topic registry is per topic, not per member), Redis round trips per join and leave
 * (counted with MONITOR: one script each, plus one registry SADD for a node's first member of a topic), and
 * joins per second from one process with a window in flight. Run by `npm run bench:scale` on its private Redis.
 */
import { Redis } from 'ioredis';
import { MemoryPresence } from '../server/presence/memory.ts';
import { RedisLink } from '../server/redis/connection.ts';
import { RedisPresence } from '../server/redis/presence.ts';

export interface PresenceCostResult {
  readonly members: number;
  readonly topics: number;
  readonly memoryHeapBytesPerMember: number;
  readonly redisNodeHeapBytesPerMember: number;
  readonly redisBytesPerMember: number;
  readonly roundTripsPerJoin: number;
  readonly roundTripsPerLeave: number;
  readonly joinsPerSecond: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

function heap(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

/** A member as the protocol makes them: a 24-hex-digit connection id, the token's subject, a small info. */
const member = (i: number) => ({
  client: i.toString(16).padStart(24, '0'),
  user: `user${i % 1000}`,
  info: { name: `n${i}` },
});

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

/** Commands the node sent (not the scripts' inner ones), counted with MONITOR around `run`. */
async function commandsDuring(url: string, run: () => Promise<void>): Promise<number> {
  const redis = new Redis(url);
  const m = await redis.monitor();
  let count = 0;
  m.on('monitor', (_time: string, args: string[], source: string) => {
    const command = String(args[0]).toLowerCase();
    // Inner script commands come from "lua"; liveness beats run on a timer, not per member.
    if (source !== 'lua' && !(command === 'set' && String(args[1]).includes(':node:'))) count++;
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  await run();
  await new Promise((resolve) => setTimeout(resolve, 200));
  m.disconnect();
  redis.disconnect();
  return count;
}

export async function runPresenceCost(options: {
  redisUrl: string;
  prefix: string;
  members?: number;
  topics?: number;
}): Promise<PresenceCostResult> {
  const members = options.members ?? 20_000;
  const topics = options.topics ?? 100;

  const memoryBefore = heap();
  const memory = new MemoryPresence();
  for (let i = 0; i < members; i++) memory.join(`topic${i % topics}`, member(i));
  const memoryHeapBytesPerMember = (heap() - memoryBefore) / members;
  await memory.close();

  const admin = new Redis(options.redisUrl);
  const link = new RedisLink({ url: options.redisUrl, prefix: options.prefix, log: () => undefined });
  await link.start();
  const presence = new RedisPresence(link);
  const sample = 200;
  const joins = await commandsDuring(options.redisUrl, async () => {
    for (let i = 0; i < sample; i++) await presence.join('sample', member(i));
  });
  const leaves = await commandsDuring(options.redisUrl, async () => {
    for (let i = 0; i < sample; i++) await presence.leave('sample', member(i).client);
  });

  const redisBefore = await usedMemory(admin);
  const nodeBefore = heap();
  const started = performance.now();
  const window = 64;
  let next = 0;
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (next < members) {
        const i = next++;
        await presence.join(`topic${i % topics}`, member(i));
      }
    }),
  );
  const joinsPerSecond = members / ((performance.now() - started) / 1000);
  const redisNodeHeapBytesPerMember = (heap() - nodeBefore) / members;
  const redisBytesPerMember = ((await usedMemory(admin)) - redisBefore) / members;
  await presence.close();
  await link.close();
  admin.disconnect();
  return {
    members,
    topics,
    memoryHeapBytesPerMember,
    redisNodeHeapBytesPerMember,
    redisBytesPerMember,
    roundTripsPerJoin: joins / sample,
    roundTripsPerLeave: leaves / sample,
    joinsPerSecond,
  };
}
