/**
 * The token replay record shared by every node (issue 16): a token spent on any node is refused on every other.
 * One command, `SET <prefix>:tok:<id> 1 NX PX <remaining lifetime>`, is both the check and the record, so two
 * nodes presented the same token at the same moment admit exactly one (Redis runs commands one at a time; on a
 * Cluster the key lives on one shard, which decides alone). The record expires with the token, plus an
 * allowance for clocks that differ between nodes, so Redis holds no more than the tokens still usable.
 */
import type { Refusal } from '../../src/admission.ts';
import { CloseCode } from '../../src/close-codes.ts';
import type { ReplayStore } from '../security/replay.ts';
import type { RedisLink } from './connection.ts';

export interface RedisReplayOptions {
  /** Kept beyond the token's expiry, for node clocks that run behind the one that wrote it (default 5000 ms). */
  readonly clockSkewMs?: number;
  readonly now?: () => number;
}

/** Token ids are base64url made by the issuer; anything longer is not a token of ours (and not stored). */
const TOKEN_ID = /^[A-Za-z0-9_-]{1,64}$/;

export class RedisReplayStore implements ReplayStore {
  readonly #link: RedisLink;
  readonly #skewMs: number;
  readonly #now: () => number;
  /** Counters for tests and health: first uses recorded, replays refused, refusals while Redis was down. */
  readonly stats = { spent: 0, replays: 0, unavailable: 0 };

  constructor(link: RedisLink, options: RedisReplayOptions = {}) {
    this.#link = link;
    this.#skewMs = options.clockSkewMs ?? 5000;
    this.#now = options.now ?? Date.now;
  }

  async spend(id: string, expiresAtMs: number): Promise<boolean | Refusal> {
    if (!TOKEN_ID.test(id)) return false;
    const ttl = Math.max(1, Math.ceil(expiresAtMs - this.#now()) + this.#skewMs);
    let reply: string | null;
    try {
      const key = this.#link.key('tok', id);
      reply = await this.#link.call((redis) => redis.set(key, '1', 'PX', ttl, 'NX'), key);
    } catch (error) {
      // Unknown whether it was recorded: refuse (retryable); the client fetches a fresh token and tries again.
      this.stats.unavailable++;
      return {
        status: 503,
        closeCode: CloseCode.TryAgainLater,
        code: 'ERR_UNAVAILABLE',
        message: `token check: ${error instanceof Error ? error.message : String(error)}`.slice(0, 120),
        retryAfter: 1,
      };
    }
    if (reply === 'OK') {
      this.stats.spent++;
      return true;
    }
    this.stats.replays++;
    return false;
  }
}
