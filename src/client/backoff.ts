/**
 * Reconnect delays: exponential with full jitter (delay = random(0, min(max, base * 2^attempt))), so that
 * thousands of clients dropped by one server restart do not come back in lock-step; and the wait before the
 * first try after losing a connection, which depends on who closed it and why.
 */
import { CloseCode } from '../close-codes.ts';

/** Close codes a server sends to many clients at once (restart, shutdown, overload). */
const SERVER_INITIATED: readonly number[] = [
  CloseCode.GoingAway,
  CloseCode.ServiceRestart,
  CloseCode.TryAgainLater,
  CloseCode.InternalError,
  CloseCode.SlowConsumer,
  CloseCode.RateLimited,
  CloseCode.TooManyConnections,
];

export interface BackoffOptions {
  /** Upper bound of the first delay (default 500 ms). */
  readonly baseMs?: number;
  /** Cap of the upper bound (default 30 s). */
  readonly maxMs?: number;
  /** Failed rounds after which the client gives up and becomes `disconnected` (default: never give up). */
  readonly maxAttempts?: number;
}

export class Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly maxAttempts: number;
  #attempt = 0;
  readonly #random: () => number;

  constructor(options: BackoffOptions = {}, random: () => number = Math.random) {
    this.baseMs = Math.max(0, options.baseMs ?? 500);
    this.maxMs = Math.max(this.baseMs, options.maxMs ?? 30_000);
    this.maxAttempts = options.maxAttempts ?? Number.POSITIVE_INFINITY;
    this.#random = random;
  }

  /** Failed attempts since the last success. */
  get attempt(): number {
    return this.#attempt;
  }

  get exhausted(): boolean {
    return this.#attempt >= this.maxAttempts;
  }

  /** Upper bound of the next delay, without jitter. */
  ceiling(attempt = this.#attempt): number {
    // 2^attempt overflows to Infinity for large attempts; Math.min caps it either way.
    return Math.min(this.maxMs, this.baseMs * 2 ** Math.min(attempt, 52));
  }

  /** Records a failure and returns the delay before the next try. */
  next(): number {
    const delay = Math.floor(this.#random() * this.ceiling());
    this.#attempt++;
    return delay;
  }

  /**
   * The wait before reconnecting after a connection closed with `code`: a path that broke is retried at
   * once (one client, one blip); a server that closed many clients at once is answered spread out by the
   * first jitter; a rate-limited client waits as long as the server said (`retry after <n> ms`, capped at 60 s).
   */
  afterLoss(code: number, reason: string): number {
    const retryAfter = code === CloseCode.RateLimited && /retry after (\d+) ms/.exec(reason);
    if (retryAfter) return Math.min(Number(retryAfter[1]), 60_000);
    return SERVER_INITIATED.includes(code) ? Math.floor(this.#random() * this.ceiling(0)) : 0;
  }

  reset(): void {
    this.#attempt = 0;
  }
}
