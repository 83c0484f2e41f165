/**
 * One shard as a node sees it: the Redis server that owns a set of slots (all of them for a single Redis), the
 * node's subscriber connection to it, the channels it carries for this node, and its health. A Redis Cluster
 * has one per master: sharded pub/sub (SSUBSCRIBE) only hears a channel on the shard that owns its slot, and an
 * outage of one master must refuse work on its topics only.
 */
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { type RedisClient, Script } from './script.ts';
import { keySlot, SLOTS } from './slot.ts';

const EPOCH = new Script("redis.call('SET', KEYS[1], ARGV[1], 'NX'); return redis.call('GET', KEYS[1])", 1);

export type RedisState = 'starting' | 'up' | 'down';

export interface ShardHealth {
  /** host:port of the master (or `redis` for a single Redis). */
  readonly name: string;
  readonly state: RedisState;
  readonly since: number;
  readonly outages: number;
  /** Slots this shard serves (16384 for a single Redis). */
  readonly slots: number;
  /** Channels this node follows on it. */
  readonly channels: number;
}

export interface RedisHealth {
  readonly state: RedisState;
  readonly nodeId: string;
  /** When the current state began (ms since epoch, real clock). */
  readonly since: number;
  readonly lastError: string | undefined;
  /** Outages seen since start (of any shard). */
  readonly outages: number;
  /** Times a shard came back without the dataset this node knew (no persistence, or flushed). */
  readonly epochChanges: number;
  readonly mode: 'single' | 'cluster';
  /** Shards that are down now: their topics are refused (1013) while the others are served. */
  readonly shardsDown: number;
  readonly shards: readonly ShardHealth[];
}

export interface RedisLinkOptions {
  /** `redis://host:port[/db]`, or several cluster seeds comma-separated (`redis://a:6379,redis://b:6379`). */
  readonly url: string;
  /** Namespace of every key and channel (default `switchyard`); tests use one per run. No `:`, `{` or `}`. */
  readonly prefix?: string;
  /** A command slower than this fails with ERR_UNAVAILABLE and marks its shard down (default 2000 ms). */
  readonly commandTimeoutMs?: number;
  /** Liveness key refresh; the key lives 3 intervals, so a killed node is known dead within that (default 1000 ms). */
  readonly livenessMs?: number;
  readonly log?: (line: string) => void;
}

/** A shard came back: the channels it carries were re-subscribed (what was published meanwhile is in history). */
export type UpEvent = {
  readonly epochChanged: boolean;
  readonly downMs: number;
  readonly channels: readonly string[];
};
export class Shard {
  readonly name: string;
  readonly subscriber: Redis;
  /** Channels of this node that live on this shard (subscribed whenever the shard is up). */
  readonly channels = new Set<string>();
  state: RedisState = 'starting';
  since = Date.now();
  outages = 0;
  epoch: string | undefined;
  slots = 0;
  recovering: Promise<void> | undefined;
  probing = false;

  constructor(name: string, options: RedisOptions) {
    this.name = name;
    this.subscriber = new Redis(options);
  }

  /** (Re-)subscribes many channels; SSUBSCRIBE takes several channels only when they share a slot. */
  async subscribeAll(channels: readonly string[], sharded: boolean): Promise<void> {
    const sub = this.subscriber;
    if (!sharded) {
      for (let i = 0; i < channels.length; i += 1000) await sub.subscribe(...channels.slice(i, i + 1000));
      return;
    }
    const bySlot = new Map<number, string[]>();
    for (const channel of channels) {
      const slot = keySlot(channel);
      bySlot.set(slot, [...(bySlot.get(slot) ?? []), channel]);
    }
    await Promise.all([...bySlot.values()].map((group) => sub.ssubscribe(...group)));
  }

  /**
   * While down, calls `attempt` every 250 ms (until the shard is up or `stopped`): a timeout leaves the
   * connections open, so only a probe tells when the shard answers in time again.
   */
  probe(attempt: () => unknown, stopped: () => boolean): void {
    if (this.probing) return;
    this.probing = true;
    const timer = setInterval(() => {
      if (this.state === 'down' && !stopped()) {
        attempt();
        return;
      }
      this.probing = false;
      clearInterval(timer);
    }, 250);
    timer.unref?.();
  }

  /**
   * Reads (or starts) the shard's epoch at `key` (a key on this shard); true when it differs from the one seen
   * before: the shard came back without its data. No key (a master without slots): a PING.
   */
  async checkEpoch(command: RedisClient, key: string | undefined): Promise<boolean> {
    if (!key) {
      await this.subscriber.ping();
      return false;
    }
    const epoch = String(await EPOCH.exec(command, [key], [randomBytes(8).toString('hex')]));
    const changed = this.epoch !== undefined && epoch !== this.epoch;
    this.epoch = epoch;
    return changed;
  }

  health(): ShardHealth {
    const { name, state, since, outages, slots } = this;
    return { name, state, since, outages, slots, channels: this.channels.size };
  }
}

/**
 * Which master serves each slot, from CLUSTER SLOTS: `[first, last, [host, port, id], ...replicas]` ranges.
 * Returns one `host:port` per slot ('' where none).
 */
export function slotOwners(reply: unknown): string[] {
  const owners = new Array<string>(SLOTS).fill('');
  for (const range of reply as [number, number, [string | Buffer, number, ...unknown[]], ...unknown[]][]) {
    const [first, last, master] = range;
    const name = `${String(master[0])}:${master[1]}`;
    for (let slot = first; slot <= last; slot++) owners[slot] = name;
  }
  return owners;
}

/**
 * A key whose slot `owners` gives to `shard`: where the link keeps that shard's epoch, so a shard that came
 * back without its data is told apart from one that only lost its connections.
 */
export function keyOnShard(prefix: string, shard: string, owners: readonly string[]): string | undefined {
  for (let i = 0; i < 100_000; i++) {
    const key = `${prefix}:epoch:{e${i}}`;
    if (owners[keySlot(key)] === shard) return key;
  }
  return undefined;
}
