/**
 * The client's upstream buffer: every `publish` that the server has not acknowledged yet, in order.
 * It holds messages while offline and re-sends the unacknowledged ones after a reconnect (same ids, so the
 * server's dedup drops the copies). Bounded by count and bytes; what happens when full is the app's choice:
 *
 * - `reject-new` (default): the new `publish` rejects with `ERR_BUFFER_FULL`; what is queued stays.
 * - `drop-oldest`: the oldest unacknowledged message is dropped (its `publish` rejects with
 *   `ERR_BUFFER_FULL`) to make room; fits live data where only the latest matters.
 */
import { SwitchyardError } from '../errors.ts';
import type { Payload } from '../transport.ts';

export type OverflowPolicy = 'reject-new' | 'drop-oldest';

export interface OutboxOptions {
  /** Unacknowledged messages kept at most (default 1000). */
  readonly maxMessages?: number;
  /** Their encoded size at most, in bytes (default 1 MiB). */
  readonly maxBytes?: number;
  readonly overflow?: OverflowPolicy;
}

export interface OutboxEntry {
  readonly id: string;
  /** Its topic, so a re-send travels on the topic's lane (undefined: the default channel). */
  readonly topic?: string | undefined;
  /** The encoded `pub` envelope, re-sent verbatim after a reconnect. */
  readonly payload: Payload;
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: SwitchyardError) => void;
}

const full = (message: string) => new SwitchyardError('ERR_BUFFER_FULL', message);

export class Outbox {
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  readonly #dropOldest: boolean;
  readonly #entries = new Map<string, OutboxEntry>();
  #bytes = 0;

  constructor(options: OutboxOptions = {}) {
    this.#maxMessages = Math.max(1, options.maxMessages ?? 1000);
    this.#maxBytes = Math.max(1, options.maxBytes ?? 1 << 20);
    this.#dropOldest = options.overflow === 'drop-oldest';
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Adds the entry, applying the overflow policy; throws `ERR_BUFFER_FULL` when it cannot be taken. */
  add(entry: OutboxEntry): void {
    if (entry.bytes > this.#maxBytes) {
      throw full(`message of ${entry.bytes} bytes exceeds the send buffer (${this.#maxBytes})`);
    }
    while (this.#entries.size >= this.#maxMessages || this.#bytes + entry.bytes > this.#maxBytes) {
      if (!this.#dropOldest) {
        throw full(`send buffer full (${this.#entries.size} messages, ${this.#bytes} bytes)`);
      }
      const oldest = this.#entries.values().next().value as OutboxEntry;
      this.settle(oldest.id);
      oldest.reject(full('dropped to make room (drop-oldest)'));
    }
    this.#entries.set(entry.id, entry);
    this.#bytes += entry.bytes;
  }

  /** Removes the entry and returns it (undefined for an unknown or already settled id). */
  settle(id: string): OutboxEntry | undefined {
    const entry = this.#entries.get(id);
    if (entry) {
      this.#entries.delete(id);
      this.#bytes -= entry.bytes;
    }
    return entry;
  }

  /** Oldest first. */
  entries(): OutboxEntry[] {
    return [...this.#entries.values()];
  }

  rejectAll(error: SwitchyardError): void {
    for (const entry of this.entries()) this.settle(entry.id)?.reject(error);
  }
}
