/**
 * Which shard serves which slot, and so which of this node's channels belong where. A reshard moves slots
 * between masters (Redis then unsubscribes their sharded channels on the old one); applying the new slot map
 * here re-homes those channels, so the link subscribes them on their new shard and the hub catches the topics
 * up from history.
 */
import type { Shard, ShardHealth } from './shard.ts';
import { keySlot } from './slot.ts';

export class ShardMap {
  readonly shards = new Map<string, Shard>();
  /** The master (`host:port`) serving each slot (cluster); empty for a single Redis. */
  #owners: string[] = [];
  readonly #single: string | undefined;

  /** `single`: the one shard's name, when there is no cluster. */
  constructor(single?: string) {
    this.#single = single;
  }

  get owners(): readonly string[] {
    return this.#owners;
  }

  /** Every shard's health, outages summed, shards down counted. */
  health(): { outages: number; shardsDown: number; shards: ShardHealth[] } {
    const shards = [...this.shards.values()].map((s) => s.health());
    const outages = shards.reduce((sum, s) => sum + s.outages, 0);
    return { outages, shardsDown: shards.filter((s) => s.state === 'down').length, shards };
  }

  shardOf(key: string): Shard | undefined {
    if (this.#single !== undefined) return this.shards.get(this.#single);
    return this.shards.get(this.#owners[keySlot(key)] ?? '');
  }

  /**
   * Takes a new slot map (`owners[slot] = host:port`). `create` makes the shard of a master not seen before.
   * Returns the new shards and, per shard, the channels that moved to it (already re-homed in `channels`).
   */
  apply(
    owners: string[],
    create: (name: string, host: string, port: number) => Shard,
  ): { added: Shard[]; moved: Map<Shard, string[]> } {
    this.#owners = owners;
    const counts = new Map<string, number>();
    for (const owner of owners) if (owner !== '') counts.set(owner, (counts.get(owner) ?? 0) + 1);
    const added: Shard[] = [];
    for (const [name, slots] of counts) {
      let shard = this.shards.get(name);
      if (!shard) {
        const colon = name.lastIndexOf(':');
        shard = create(name, name.slice(0, colon), Number(name.slice(colon + 1)));
        this.shards.set(name, shard);
        added.push(shard);
      }
      shard.slots = slots;
    }
    for (const shard of this.shards.values()) if (!counts.has(shard.name)) shard.slots = 0;
    const moved = new Map<Shard, string[]>();
    for (const shard of this.shards.values()) {
      for (const channel of shard.channels) {
        const owner = this.shardOf(channel);
        if (!owner || owner === shard) continue;
        shard.channels.delete(channel);
        owner.channels.add(channel);
        if (shard.state === 'up') shard.subscriber.sunsubscribe(channel).catch(() => undefined);
        moved.set(owner, [...(moved.get(owner) ?? []), channel]);
      }
    }
    return { added, moved };
  }
}
