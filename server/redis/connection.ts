/**
 * One node's link to Redis: exactly two connections (commands, and pub/sub, which a subscribed RESP2 connection
 * cannot share), whatever the number of clients. It owns the health of that link, because every piece of the
 * scale-out engine (hub, sessions, SSE forwarding) must agree on one answer to "can this node take work now?":
 *
 * - `up` once both connections are ready, the channels re-subscribed and the dataset's epoch checked;
 * - `down` at the first lost connection or timed-out command (a slow Redis counts as an unavailable one);
 *   work then fails fast with ERR_UNAVAILABLE (close code TryAgainLater), nothing waits in a queue;
 * - back `up` by itself: ioredis reconnects, a PING probe clears a timeout, the channels are re-subscribed,
 *   then listeners hear `up` with `epochChanged` (Redis came back without its data) so they can catch up or
 *   reset.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { CloseCode } from '../../src/close-codes.ts';
import { isSwitchyardError, SwitchyardError } from '../../src/errors.ts';

export type RedisState = 'starting' | 'up' | 'down';

export interface RedisHealth {
  readonly state: RedisState;
  readonly nodeId: string;
  /** When the current state began (ms since epoch, real clock). */
  readonly since: number;
  readonly lastError: string | undefined;
  /** Outages seen since start. */
  readonly outages: number;
  /** Times Redis came back without the dataset this node knew (no persistence, or flushed). */
  readonly epochChanges: number;
}

export interface RedisLinkOptions {
  /** `redis://host:port[/db]`. */
  readonly url: string;
  /** Namespace of every key and channel (default `switchyard`); tests use one per run. No `:` inside. */
  readonly prefix?: string;
  /** A command slower than this fails with ERR_UNAVAILABLE and marks Redis down (default 2000 ms). */
  readonly commandTimeoutMs?: number;
  /** Liveness key refresh; the key lives 3 intervals, so a killed node is known dead within that (default 1000 ms). */
  readonly livenessMs?: number;
  readonly log?: (line: string) => void;
}

export type UpEvent = { readonly epochChanged: boolean; readonly downMs: number };
type ChannelHandler = (message: Buffer) => void;

/** Redis answers that mean "not now" rather than "your command is wrong". */
const TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN|CLUSTERDOWN|OOM|NOSCRIPT)/;

export function isUnavailable(error: unknown): boolean {
  if (isSwitchyardError(error, 'ERR_UNAVAILABLE')) return true;
  if (!(error instanceof Error)) return false;
  return error.name !== 'ReplyError' || TRANSIENT_REPLY.test(error.message);
}

export function unavailable(detail: string, cause?: unknown): SwitchyardError {
  return new SwitchyardError('ERR_UNAVAILABLE', `redis unavailable: ${detail}`.slice(0, 120), {
    closeCode: CloseCode.TryAgainLater,
    cause,
  });
}

/**
 * A Lua script run by hash (EVALSHA, one round trip), loaded again by EVAL after Redis lost its script cache.
 * Registered per connection with ioredis' `defineCommand` (EVALSHA, falling back to EVAL on NOSCRIPT).
 */
export class Script {
  static #count = 0;
  readonly #lua: string;
  readonly #keys: number;
  readonly #name = `switchyardScript${Script.#count++}`;

  constructor(lua: string, keys: number) {
    this.#lua = lua;
    this.#keys = keys;
  }

  /** Raw run on one connection; callers go through `RedisLink.script` for the health bookkeeping. */
  exec(redis: Redis, keys: readonly string[], args: readonly (string | Buffer | number)[]): Promise<unknown> {
    if (keys.length !== this.#keys) throw new Error(`script expects ${this.#keys} keys, got ${keys.length}`);
    const commands = redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    if (!commands[this.#name]) redis.defineCommand(this.#name, { numberOfKeys: this.#keys, lua: this.#lua });
    return (commands[`${this.#name}Buffer`] as (...a: unknown[]) => Promise<unknown>).call(
      redis,
      ...keys,
      ...args,
    );
  }
}

const EPOCH = new Script("redis.call('SET', KEYS[1], ARGV[1], 'NX'); return redis.call('GET', KEYS[1])", 1);

export class RedisLink {
  readonly nodeId = randomBytes(6).toString('base64url');
  readonly prefix: string;
  readonly command: Redis;
  readonly subscriber: Redis;
  readonly #log: (line: string) => void;
  readonly #channels = new Map<string, ChannelHandler>();
  readonly #onUp = new Set<(event: UpEvent) => void>();
  readonly #onDown = new Set<(reason: string) => void>();
  #state: RedisState = 'starting';
  #since = Date.now();
  #lastError: string | undefined;
  #outages = 0;
  #epochChanges = 0;
  #epoch: string | undefined;
  #recovering: Promise<void> | undefined;
  #closed = false;
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  readonly #livenessMs: number;

  constructor(options: RedisLinkOptions) {
    this.prefix = options.prefix ?? 'switchyard';
    if (this.prefix.includes(':')) throw new Error('prefix must not contain ":"');
    this.#log = options.log ?? ((line) => console.log(line));
    this.#livenessMs = options.livenessMs ?? 1000;
    const common = {
      lazyConnect: true,
      // Fail fast instead of queueing: a refused request is retried by the client, a queued one may be lost.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      autoResubscribe: false,
      commandTimeout: options.commandTimeoutMs ?? 2000,
      connectTimeout: 2000,
      retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 1000),
    };
    // No auto-pipelining: with ioredis 6.0.0 and scripts, publishes under load stalled without ever being
    // answered or timing out (bench/scale-throughput.ts hung in 4 of 6 runs; none in 6 runs without it).
    this.command = new Redis(options.url, { ...common, connectionName: `switchyard:${this.nodeId}:cmd` });
    this.subscriber = new Redis(options.url, { ...common, connectionName: `switchyard:${this.nodeId}:sub` });
    this.subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      this.#channels.get(channel.toString())?.(message);
    });
    for (const redis of [this.command, this.subscriber]) {
      redis.on('error', (error: Error) => {
        this.#lastError = error.message;
      });
      redis.on('close', () => this.#markDown('connection lost'));
      redis.on('ready', () => void this.#recover());
    }
  }

  key(...parts: string[]): string {
    return `${this.prefix}:${parts.join(':')}`;
  }

  get state(): RedisState {
    return this.#state;
  }

  health(): RedisHealth {
    return {
      state: this.#state,
      nodeId: this.nodeId,
      since: this.#since,
      lastError: this.#lastError,
      outages: this.#outages,
      epochChanges: this.#epochChanges,
    };
  }

  onUp(listener: (event: UpEvent) => void): void {
    this.#onUp.add(listener);
  }

  onDown(listener: (reason: string) => void): void {
    this.#onDown.add(listener);
  }

  /** Connects both connections; resolves once up (rejects if Redis cannot be reached at start). */
  async start(): Promise<void> {
    await Promise.all([this.command.connect(), this.subscriber.connect()]);
    await this.#recover();
    if (this.#state !== 'up') throw unavailable(this.#lastError ?? 'could not start');
    const liveness = setInterval(() => void this.#beat(), this.#livenessMs);
    liveness.unref?.();
    this.#timers.push(liveness);
    await this.#beat();
  }

  /** Runs one command (or script) on the command connection; connection-level failures become ERR_UNAVAILABLE. */
  async call<T>(run: (redis: Redis) => Promise<T>): Promise<T> {
    if (this.#state !== 'up') throw unavailable(`state ${this.#state}`);
    try {
      return await run(this.command);
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      this.#markDown(error instanceof Error ? error.message : String(error));
      throw unavailable(error instanceof Error ? error.message : String(error), error);
    }
  }

  /** Runs a script in one round trip (EVALSHA), with the same failure handling as `call`. */
  script(
    script: Script,
    keys: readonly string[],
    args: readonly (string | Buffer | number)[],
  ): Promise<unknown> {
    return this.call((redis) => script.exec(redis, keys, args));
  }

  /** Routes a channel's messages to `handler` and subscribes it; rejects (ERR_UNAVAILABLE) while down. */
  async subscribe(channel: string, handler: ChannelHandler): Promise<void> {
    this.#channels.set(channel, handler);
    if (this.#state !== 'up') {
      this.#channels.delete(channel);
      throw unavailable(`state ${this.#state}`);
    }
    try {
      await this.subscriber.subscribe(channel);
    } catch (error) {
      if (this.#channels.get(channel) === handler) this.#channels.delete(channel);
      this.#markDown(error instanceof Error ? error.message : String(error));
      throw unavailable('subscribe failed', error);
    }
  }

  unsubscribe(channel: string, handler: ChannelHandler): void {
    if (this.#channels.get(channel) !== handler) return;
    this.#channels.delete(channel);
    if (this.#state === 'up') this.subscriber.unsubscribe(channel).catch(() => undefined);
  }

  /** Channels this node follows (for tests and metrics). */
  get channelCount(): number {
    return this.#channels.size;
  }

  /** True while `nodeId`'s liveness key exists (it is refreshed every `livenessMs`, lives 3 of them). */
  async isAlive(nodeId: string): Promise<boolean> {
    return (await this.call((r) => r.exists(this.key('node', nodeId)))) === 1;
  }

  #markDown(reason: string): void {
    if (this.#closed) return;
    this.#lastError = reason;
    if (this.#state === 'down') return;
    const wasStarting = this.#state === 'starting';
    this.#state = 'down';
    this.#since = Date.now();
    if (wasStarting) return;
    this.#outages++;
    this.#log(`redis: DOWN (${reason}); refusing new work with 1013 until it is back`);
    for (const listener of this.#onDown) listener(reason);
    // A timeout leaves both connections open: probe until Redis answers again in time.
    const probe = setInterval(() => {
      if (this.#state !== 'down' || this.#closed) return clearInterval(probe);
      if (this.command.status === 'ready' && this.subscriber.status === 'ready') void this.#recover();
    }, 250);
    probe.unref?.();
  }

  #recover(): Promise<void> {
    if (this.#recovering) return this.#recovering;
    if (this.#closed || this.#state === 'up') return Promise.resolve();
    if (this.command.status !== 'ready' || this.subscriber.status !== 'ready') return Promise.resolve();
    this.#recovering = this.#runRecovery().finally(() => {
      this.#recovering = undefined;
    });
    return this.#recovering;
  }

  async #runRecovery(): Promise<void> {
    const downMs = Date.now() - this.#since;
    try {
      await this.command.ping();
      const fresh = randomBytes(8).toString('hex');
      const epoch = String(await EPOCH.exec(this.command, [this.key('epoch')], [fresh]));
      const epochChanged = this.#epoch !== undefined && epoch !== this.#epoch;
      this.#epoch = epoch;
      const channels = [...this.#channels.keys()];
      for (let i = 0; i < channels.length; i += 1000) {
        await this.subscriber.subscribe(...channels.slice(i, i + 1000));
      }
      const first = this.#state === 'starting';
      this.#state = 'up';
      this.#since = Date.now();
      if (epochChanged) this.#epochChanges++;
      if (!first) {
        this.#log(
          `redis: UP again after ${downMs} ms${epochChanged ? ' (dataset lost: history, sessions and sequences restart; subscribers get a reset)' : ''}`,
        );
        for (const listener of this.#onUp) listener({ epochChanged, downMs });
      }
    } catch (error) {
      this.#lastError = error instanceof Error ? error.message : String(error);
    }
  }

  async #beat(): Promise<void> {
    if (this.#state !== 'up') return;
    await this.call((r) => r.set(this.key('node', this.nodeId), '1', 'PX', this.#livenessMs * 3)).catch(
      () => undefined,
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    for (const timer of this.#timers) clearInterval(timer);
    if (this.#state === 'up') await this.command.del(this.key('node', this.nodeId)).catch(() => undefined);
    this.#closed = true;
    this.#channels.clear();
    this.command.disconnect();
    this.subscriber.disconnect();
  }
}
