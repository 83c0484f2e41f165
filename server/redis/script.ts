/**
 * The pieces every Redis caller shares, whatever the topology (one Redis or a Cluster): the rule that tells
 * "not now" (retry later, close code TryAgainLater) from "your command is wrong", and Lua scripts run by hash
 * in one round trip. Kept apart from the link so the link's topology code stays small.
 */
import type { Cluster, Redis } from 'ioredis';
import { CloseCode } from '../../src/close-codes.ts';
import { isSwitchyardError, SwitchyardError } from '../../src/errors.ts';

/** The command connection: one Redis, or the Cluster client that routes each key to its shard. */
export type RedisClient = Redis | Cluster;

/** Redis answers that mean "not now" rather than "your command is wrong". */
const TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN|CLUSTERDOWN|OOM|NOSCRIPT|MOVED|ASK)/;
/** The subset that says the server itself is unavailable (as opposed to a slot in motion during a reshard). */
const SERVER_DOWN_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN)/;

export function isUnavailable(error: unknown): boolean {
  if (isSwitchyardError(error, 'ERR_UNAVAILABLE')) return true;
  if (!(error instanceof Error)) return false;
  return error.name !== 'ReplyError' || TRANSIENT_REPLY.test(error.message);
}

/** True when `error` says the server (shard) is gone or not serving, not just that one command must retry. */
export function isServerDown(error: unknown): boolean {
  if (!(error instanceof Error) || isSwitchyardError(error, 'ERR_UNAVAILABLE')) return false;
  return error.name !== 'ReplyError' || SERVER_DOWN_REPLY.test(error.message);
}

export function unavailable(detail: string, cause?: unknown): SwitchyardError {
  return new SwitchyardError('ERR_UNAVAILABLE', `redis unavailable: ${detail}`.slice(0, 120), {
    closeCode: CloseCode.TryAgainLater,
    cause,
  });
}

/**
 * A Lua script run by hash (EVALSHA, one round trip), loaded again by EVAL after Redis lost its script cache.
 * Registered per connection with ioredis' `defineCommand` (EVALSHA, falling back to EVAL on NOSCRIPT); on a
 * Cluster it runs on the shard of its keys, which must therefore share one slot (one hash tag).
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
  exec(
    redis: RedisClient,
    keys: readonly string[],
    args: readonly (string | Buffer | number)[],
  ): Promise<unknown> {
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
