/**
 * Publish ids for the server API: a retry with the same `id` (on the same topic) gets the first publish's
 * sequence number and publishes nothing. On this node the first attempt's promise is kept, so a retry that
 * overlaps the first one waits for it instead of racing it; across nodes the hub's own idempotency key
 * (Redis: a key beside the topic, written in the publish script) gives the same answer.
 */
export class IdempotencyCache {
  readonly #entries = new Map<string, { readonly seq: Promise<number>; readonly expires: number }>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;

  constructor(ttlMs: number, maxEntries = 100_000) {
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
  }

  /** The sequence number of `key`'s first publish: `publish` runs only for a key not seen within the TTL. */
  run(key: string, publish: () => number | Promise<number>): Promise<number> {
    const now = Date.now();
    const known = this.#entries.get(key);
    if (known && known.expires > now) return known.seq;
    this.#sweep(now);
    const seq = Promise.resolve().then(publish);
    this.#entries.set(key, { seq, expires: now + this.#ttlMs });
    // A failed publish is not remembered: its retry publishes (the hub's key still guards a write that landed).
    seq.catch(() => {
      if (this.#entries.get(key)?.seq === seq) this.#entries.delete(key);
    });
    return seq;
  }

  /** Entries are in insertion order, so expired ones are at the front; the oldest go first when over the cap. */
  #sweep(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (entry.expires > now && this.#entries.size < this.#maxEntries) return;
      this.#entries.delete(key);
    }
  }
}
