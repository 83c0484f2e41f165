/**
 * One node's link to Redis, one Redis or a Redis Cluster alike: a command connection (a `Redis`, or the
 * `Cluster` client, which follows MOVED/ASK during a reshard) and a subscriber connection per shard (sharded
 * pub/sub hears a channel only on the shard owning its slot). It owns the health of that link, because every
 * piece of the scale-out engine must agree on one answer to "can this node take work on this key now?":
 * - a shard is `up` once its subscriber is ready, its channels re-subscribed and its epoch checked;
 * - `down` at its first lost connection or timed-out command (a slow Redis counts as an unavailable one): work
 *   on its keys fails fast with ERR_UNAVAILABLE (close code TryAgainLater), nothing waits in a queue, and the
 *   other shards keep serving theirs;
 * - back `up` by itself: ioredis reconnects, a probe clears a timeout, the channels are re-subscribed, then
 *   listeners hear `up` with `epochChanged` (the shard came back without its data) and the channels it carries.
 * The link as a whole is `down` only when every shard is. REDIS_URL decides the topology at start (./seeds.ts).
 */
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { clientOptions, clusterClient } from './clients.ts';
import { isServerDown, isUnavailable, type RedisClient, type Script, unavailable } from './script.ts';
import { discoverTopology, parseRedisUrls, type Seed, type Topology } from './seeds.ts';
import {
  keyOnShard,
  type RedisHealth,
  type RedisLinkOptions,
  type RedisState,
  Shard,
  slotOwners,
  type UpEvent,
} from './shard.ts';
import { ShardMap } from './shard-map.ts';
import { hashTag } from './slot.ts';

export { isUnavailable, type RedisClient, Script, unavailable } from './script.ts';
export type { RedisHealth, RedisLinkOptions, RedisState, ShardHealth, UpEvent } from './shard.ts';

type ChannelHandler = (message: Buffer) => void;

const SINGLE = 'redis';

export class RedisLink {
  readonly nodeId = randomBytes(6).toString('base64url');
  readonly prefix: string;
  readonly #options: RedisLinkOptions;
  readonly #log: (line: string) => void;
  #command: RedisClient | undefined;
  #mode: 'single' | 'cluster' = 'single';
  #seed: Seed | undefined;
  #map = new ShardMap(SINGLE);
  readonly #channels = new Map<string, ChannelHandler>();
  readonly #onUp = new Set<(event: UpEvent) => void>();
  readonly #onDown = new Set<(reason: string, channels: readonly string[]) => void>();
  #started = false;
  #state: RedisState = 'starting';
  #since = Date.now();
  #lastError: string | undefined;
  #epochChanges = 0;
  #closed = false;
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  readonly #livenessMs: number;

  constructor(options: RedisLinkOptions) {
    this.prefix = options.prefix ?? 'switchyard';
    if (/[:{}]/.test(this.prefix)) throw new Error('prefix must not contain ":", "{" or "}"');
    this.#options = options;
    this.#log = options.log ?? ((line) => console.log(line));
    this.#livenessMs = options.livenessMs ?? 1000;
  }

  #clientOptions(role: string): RedisOptions & { lazyConnect: true } {
    const name = `switchyard:${this.nodeId}:${role}`;
    return clientOptions(name, this.#seed, this.#options.commandTimeoutMs ?? 2000);
  }

  /** The command connection (after `start`): one `Redis`, or the `Cluster` client. */
  get command(): RedisClient {
    if (!this.#command) throw new Error('RedisLink: start() first');
    return this.#command;
  }

  /** The first shard's subscriber connection (a single Redis has only that one). */
  get subscriber(): Redis {
    const shard = this.#map.shards.values().next().value;
    if (!shard) throw new Error('RedisLink: start() first');
    return shard.subscriber;
  }

  /** True on a Redis Cluster: live messages use sharded pub/sub (SPUBLISH/SSUBSCRIBE). */
  get sharded(): boolean {
    return this.#mode === 'cluster';
  }

  /** The publish command for channels, inside scripts too: a cluster's SPUBLISH touches one shard only. */
  get publishCommand(): 'PUBLISH' | 'SPUBLISH' {
    return this.sharded ? 'SPUBLISH' : 'PUBLISH';
  }

  key(...parts: string[]): string {
    return `${this.prefix}:${parts.join(':')}`;
  }

  /** `{<name>}`: put it in every key that must share one slot with the others of `name` (one script). */
  tag(name: string): string {
    return `{${hashTag(name)}}`;
  }

  get state(): RedisState {
    return this.#state;
  }

  /** The state of the shard serving `key` (the link's own state on a single Redis). */
  stateOf(key: string): RedisState {
    return this.#map.shardOf(key)?.state ?? this.#state;
  }

  health(): RedisHealth {
    const { state, nodeId } = this;
    const base = { state, nodeId, since: this.#since, lastError: this.#lastError, mode: this.#mode };
    return { ...base, epochChanges: this.#epochChanges, ...this.#map.health() };
  }

  onUp(listener: (event: UpEvent) => void): void {
    this.#onUp.add(listener);
  }

  /** `channels`: those the lost shard carried (all of them on a single Redis). */
  onDown(listener: (reason: string, channels: readonly string[]) => void): void {
    this.#onDown.add(listener);
  }

  /**
   * Decides the topology (./seeds.ts: misconfiguration throws RedisConfigError naming the seeds), connects and
   * resolves once every shard is up (rejects with ERR_UNAVAILABLE if one cannot be reached at start).
   */
  async start(): Promise<void> {
    const seeds = parseRedisUrls(this.#options.url);
    const topology: Topology = await discoverTopology(seeds, this.#options.commandTimeoutMs ?? 2000);
    if (topology.mode === 'single') {
      this.#seed = topology.seed;
      this.#command = new Redis(topology.seed.url, this.#clientOptions('cmd'));
      this.#watchCommand();
      await this.#command.connect();
      const { host, port, db } = topology.seed;
      const shard = this.#newShard(SINGLE, { ...this.#clientOptions('sub'), host, port, db });
      shard.slots = 16384;
      this.#map.shards.set(SINGLE, shard);
      await shard.subscriber.connect();
    } else {
      this.#mode = 'cluster';
      this.#map = new ShardMap();
      this.#seed = topology.seeds[0];
      const cluster = clusterClient(topology.seeds, this.#clientOptions('cmd'));
      this.#command = cluster;
      this.#watchCommand();
      await cluster.connect();
      await this.#refreshSlots();
      const timer = setInterval(() => void this.#refreshSlots().catch(() => undefined), 5000);
      timer.unref?.();
      this.#timers.push(timer);
    }
    await Promise.all([...this.#map.shards.values()].map((s) => this.#recover(s)));
    const down = [...this.#map.shards.values()].filter((s) => s.state !== 'up');
    if (down.length > 0) {
      throw unavailable(`${down.map((s) => s.name).join(', ')}: ${this.#lastError ?? 'could not start'}`);
    }
    this.#started = true;
    this.#updateState();
    const liveness = setInterval(() => void this.#beat(), this.#livenessMs);
    liveness.unref?.();
    this.#timers.push(liveness);
    await this.#beat();
  }

  #watchCommand(): void {
    const command = this.command;
    command.on('error', (error: Error) => {
      this.#lastError = error.message;
    });
    if (this.#mode === 'single') {
      command.on('close', () => this.#shardDown(this.#map.shards.get(SINGLE), 'connection lost'));
      command.on('ready', () => {
        const shard = this.#map.shards.get(SINGLE);
        if (shard) void this.#recover(shard);
      });
    }
  }

  #newShard(name: string, options: RedisOptions): Shard {
    const shard = new Shard(name, options);
    const sub = shard.subscriber;
    sub.on(this.sharded ? 'smessageBuffer' : 'messageBuffer', (channel: Buffer, message: Buffer) => {
      this.#channels.get(channel.toString())?.(message);
    });
    sub.on('error', (error: Error) => {
      this.#lastError = error.message;
    });
    sub.on('close', () => this.#shardDown(shard, 'connection lost'));
    sub.on('ready', () => void this.#recover(shard));
    // A slot of this shard moved away (reshard): Redis unsubscribed its channels; follow them to their owner.
    sub.on('moved', () => void this.#refreshSlots().catch(() => undefined));
    return shard;
  }

  /**
   * Reads the slot map (CLUSTER SLOTS), connects to masters not seen before, and moves every channel whose slot
   * changed owner to its new shard; listeners hear `up` for those, as the messages in between are only in the
   * topics' history.
   */
  async #refreshSlots(): Promise<void> {
    if (this.#mode !== 'cluster' || this.#closed) return;
    const owners = slotOwners(await this.command.cluster('SLOTS'));
    const { added, moved } = this.#map.apply(owners, (name, host, port) =>
      this.#newShard(name, { ...this.#clientOptions('sub'), host, port }),
    );
    const connecting = added.map((shard) => shard.subscriber.connect().catch(() => undefined));
    if (!this.#started) await Promise.all(connecting);
    for (const [owner, channels] of moved) {
      if (owner.state !== 'up') continue; // its recovery subscribes them
      try {
        await owner.subscribeAll(channels, true);
        this.#log(`redis: ${channels.length} channel(s) followed to ${owner.name} after a slot move`);
        for (const listener of this.#onUp) listener({ epochChanged: false, downMs: 0, channels });
      } catch (error) {
        this.#shardDown(owner, error instanceof Error ? error.message : String(error));
      }
    }
  }

  /**
   * Runs one command (or script) on the command connection; `key` names the shard it goes to, so a shard that
   * is down refuses at once and a connection-level failure marks only that shard down (ERR_UNAVAILABLE).
   */
  async call<T>(run: (redis: RedisClient) => Promise<T>, key?: string): Promise<T> {
    const shard = key === undefined ? undefined : this.#map.shardOf(key);
    const state = shard?.state ?? this.#state;
    if (state !== 'up')
      throw unavailable(shard && this.sharded ? `shard ${shard.name} ${state}` : `state ${state}`);
    try {
      return await run(this.command);
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      const target = shard ?? (this.sharded ? undefined : this.#map.shards.get(SINGLE));
      if (target && (isServerDown(error) || !this.sharded)) this.#shardDown(target, reason);
      throw unavailable(reason, error);
    }
  }

  /** Runs a script in one round trip (EVALSHA) on its keys' shard, with the same failure handling as `call`. */
  script(
    script: Script,
    keys: readonly string[],
    args: readonly (string | Buffer | number)[],
  ): Promise<unknown> {
    return this.call((redis) => script.exec(redis, keys, args), keys[0]);
  }

  /** PUBLISH (SPUBLISH on a cluster: one shard); resolves to the number of subscribers that got it. */
  publish(channel: string, message: string | Buffer): Promise<number> {
    return this.call(
      async (redis) =>
        Number(await (this.sharded ? redis.spublish(channel, message) : redis.publish(channel, message))),
      channel,
    );
  }

  /** Routes a channel's messages to `handler` and subscribes it on its shard; rejects (ERR_UNAVAILABLE) while down. */
  async subscribe(channel: string, handler: ChannelHandler): Promise<void> {
    const shard = this.#map.shardOf(channel);
    if (shard?.state !== 'up') {
      throw unavailable(
        shard && this.sharded ? `shard ${shard.name} ${shard.state}` : `state ${this.#state}`,
      );
    }
    this.#channels.set(channel, handler);
    shard.channels.add(channel);
    try {
      await (this.sharded ? shard.subscriber.ssubscribe(channel) : shard.subscriber.subscribe(channel));
    } catch (error) {
      if (this.#channels.get(channel) === handler) {
        this.#channels.delete(channel);
        shard.channels.delete(channel);
      }
      this.#shardDown(shard, error instanceof Error ? error.message : String(error));
      throw unavailable('subscribe failed', error);
    }
  }

  unsubscribe(channel: string, handler: ChannelHandler): void {
    if (this.#channels.get(channel) !== handler) return;
    this.#channels.delete(channel);
    const shard = [...this.#map.shards.values()].find((s) => s.channels.delete(channel));
    if (shard?.state !== 'up') return;
    const sub = shard.subscriber;
    (this.sharded ? sub.sunsubscribe(channel) : sub.unsubscribe(channel)).catch(() => undefined);
  }

  /** True while `nodeId`'s liveness key exists (it is refreshed every `livenessMs`, lives 3 of them). */
  async isAlive(nodeId: string): Promise<boolean> {
    const key = this.key('node', nodeId);
    return (await this.call((r) => r.exists(key), key)) === 1;
  }

  /** The link is down when no shard that serves slots is up. */
  #updateState(): void {
    if (!this.#started) return;
    const serving = [...this.#map.shards.values()].filter((s) => s.slots > 0);
    const state = serving.some((s) => s.state === 'up') ? 'up' : 'down';
    if (this.#state !== state) [this.#state, this.#since] = [state, Date.now()];
  }

  #shardDown(shard: Shard | undefined, reason: string): void {
    if (this.#closed || !shard) return;
    this.#lastError = reason;
    if (shard.state === 'down') return;
    const wasStarting = shard.state === 'starting';
    shard.state = 'down';
    shard.since = Date.now();
    this.#updateState();
    if (wasStarting) return;
    shard.outages++;
    const what = this.sharded
      ? `shard ${shard.name} DOWN (${reason}); refusing new work on its topics`
      : `DOWN (${reason}); refusing new work`;
    this.#log(`redis: ${what} with 1013 until it is back`);
    const channels = [...shard.channels];
    for (const listener of this.#onDown) listener(reason, channels);
    this.#probe(shard);
  }

  /** Until the shard is up: recover, and on a cluster re-read the slot map (a failover moves its slots). */
  #probe(shard: Shard): void {
    let attempts = 0;
    const attempt = () => {
      if (this.sharded && attempts++ % 4 === 0) void this.#refreshSlots().catch(() => undefined);
      return this.#recover(shard);
    };
    shard.probe(attempt, () => this.#closed || shard.slots === 0);
  }

  #recover(shard: Shard): Promise<void> {
    if (shard.recovering) return shard.recovering;
    if (this.#closed || shard.state === 'up') return Promise.resolve();
    if (this.command.status !== 'ready' || shard.subscriber.status !== 'ready') return Promise.resolve();
    shard.recovering = this.#runRecovery(shard).finally(() => {
      shard.recovering = undefined;
    });
    return shard.recovering;
  }

  async #runRecovery(shard: Shard): Promise<void> {
    const downMs = Date.now() - shard.since;
    try {
      const epochKey = this.sharded
        ? keyOnShard(this.prefix, shard.name, this.#map.owners)
        : this.key('epoch');
      const epochChanged = await shard.checkEpoch(this.command, epochKey);
      const channels = [...shard.channels];
      await shard.subscribeAll(channels, this.sharded);
      const first = shard.state === 'starting';
      shard.state = 'up';
      shard.since = Date.now();
      this.#updateState();
      if (epochChanged) this.#epochChanges++;
      if (!first) {
        const what = this.sharded ? `shard ${shard.name} UP again` : 'UP again';
        this.#log(
          `redis: ${what} after ${downMs} ms${epochChanged ? ' (dataset lost: history, sessions and sequences restart; subscribers get a reset)' : ''}`,
        );
      }
      // A master first seen after start (a failover) may carry channels moved from a lost one: catch them up.
      if (!first || this.#started)
        for (const listener of this.#onUp) listener({ epochChanged, downMs, channels });
    } catch (error) {
      this.#lastError = error instanceof Error ? error.message : String(error);
      if (!this.#started) return;
      shard.state = 'down'; // e.g. a promoted replica the command client does not route to yet: retry
      this.#probe(shard);
    }
  }

  async #beat(): Promise<void> {
    if (this.#state !== 'up') return;
    const key = this.key('node', this.nodeId);
    await this.call((r) => r.set(key, '1', 'PX', this.#livenessMs * 3), key).catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    for (const timer of this.#timers) clearInterval(timer);
    const key = this.key('node', this.nodeId);
    if (this.#command && this.stateOf(key) === 'up') await this.#command.del(key).catch(() => undefined);
    this.#closed = true;
    this.#channels.clear();
    this.#command?.disconnect();
    for (const shard of this.#map.shards.values()) shard.subscriber.disconnect();
  }
}
