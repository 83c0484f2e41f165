/**
 * Event-loop lag on any runtime (Node and Deno alike): a timer that should fire every `intervalMs` notes how
 * late it fired. A loop blocked by one long task shows as a late timer, which is what delays every message.
 */
export class LagSampler {
  /** Lateness of the last tick, seconds. */
  last = 0;
  /** Largest lateness since the last `takeMax()`, seconds. */
  #max = 0;
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(intervalMs = 500) {
    let expected = performance.now() + intervalMs;
    this.#timer = setInterval(() => {
      const now = performance.now();
      this.last = Math.max(0, now - expected) / 1000;
      if (this.last > this.#max) this.#max = this.last;
      expected = now + intervalMs;
    }, intervalMs);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** The largest lateness since the previous call (each scrape sees the worst stall since the one before). */
  takeMax(): number {
    const max = Math.max(this.#max, this.last);
    this.#max = 0;
    return max;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
