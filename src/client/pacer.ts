/**
 * Keeps one link's upstream under the rate the server announced (`/rt/negotiate` `rate`), so that the client
 * never trips the server's flood limit by itself: after a reconnect it re-sends every subscription and every
 * unacknowledged publish at once, and a server closing that burst with RateLimited (4029) would see the same
 * burst again on every reconnect. Sends within budget go out at once; later ones wait their turn, in order.
 */
import type { MessageRate } from '../negotiate.ts';

/** Stay this far below the announced figures: the two buckets start at slightly different moments. */
const RATE_MARGIN = 0.9;
const BURST_MARGIN = 0.5;

export class Pacer {
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #last = Date.now();
  readonly #queue: (() => void)[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(rate: MessageRate) {
    this.#perMs = (rate.messagesPerSecond * RATE_MARGIN) / 1000;
    this.#burst = Math.max(1, Math.floor(rate.burst * BURST_MARGIN));
    this.#tokens = this.#burst;
  }

  /** Messages waiting for their turn. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Runs `send` now if the budget allows and nothing waits before it; otherwise after what waits. */
  run(send: () => void): void {
    if (this.#queue.length === 0 && this.#take()) {
      send();
      return;
    }
    this.#queue.push(send);
    this.#schedule();
  }

  /** Runs `send` only if it can go now (unreliable data is dropped rather than delayed); false if not. */
  tryNow(send: () => void): boolean {
    if (this.#queue.length > 0 || !this.#take()) return false;
    send();
    return true;
  }

  /** Forgets what waits (the link is gone; the outbox and subscriptions re-send on the next one). */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
  }

  #take(): boolean {
    const now = Date.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#perMs);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    const wait = Math.max(1, Math.ceil((1 - this.#tokens) / this.#perMs));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      while (this.#queue.length > 0 && this.#take()) (this.#queue.shift() as () => void)();
      if (this.#queue.length > 0) this.#schedule();
    }, wait);
  }
}
