/**
 * A connection's incoming work, run in order per channel (a topic's lane) and never queued behind another
 * channel. Work that completes at once (the embedded hub and session store answer synchronously) runs at once
 * with no promise at all; only work that returns a promise makes the items after it on its channel wait. The
 * bench showed the former chain of promises per message (about ten per `pub`) costing more than the rung.
 */

/** A value now, or later. Hot paths check for the promise instead of always allocating one. */
export type Maybe<T> = T | Promise<T>;

export function isPromise<T>(value: Maybe<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

interface ChannelQueue<T> {
  readonly channel: string;
  readonly items: (T | undefined)[];
  head: number;
}

export class SerialChannels<T> {
  readonly #run: (item: T) => Maybe<void>;
  readonly #max: number;
  /** Channels with work in flight (absent: idle). */
  #busy: Map<string, ChannelQueue<T>> | undefined;
  #pending = 0;

  /** `run` must not throw; `max` bounds the items waiting or in flight over all channels. */
  constructor(run: (item: T) => Maybe<void>, max: number) {
    this.#run = run;
    this.#max = max;
  }

  /** Items waiting or in flight. */
  get pending(): number {
    return this.#pending;
  }

  /** Runs or queues `item`; false when the bound is reached (nothing was queued). */
  push(channel: string, item: T): boolean {
    const busy = this.#busy?.get(channel);
    if (busy) {
      if (this.#pending >= this.#max) return false;
      busy.items.push(item);
      this.#pending++;
      return true;
    }
    const result = this.#run(item);
    if (!isPromise(result)) return true;
    this.#pending++;
    const queue: ChannelQueue<T> = { channel, items: [], head: 0 };
    this.#busy ??= new Map();
    this.#busy.set(channel, queue);
    result.then(
      () => this.#next(queue),
      () => this.#next(queue),
    );
    return true;
  }

  /** The item in flight on `queue` finished: run what waits behind it, until one is asynchronous again. */
  #next(queue: ChannelQueue<T>): void {
    this.#pending--;
    while (queue.head < queue.items.length) {
      const item = queue.items[queue.head] as T;
      queue.items[queue.head] = undefined;
      queue.head++;
      const result = this.#run(item);
      if (isPromise(result)) {
        result.then(
          () => this.#next(queue),
          () => this.#next(queue),
        );
        return;
      }
      this.#pending--;
    }
    this.#busy?.delete(queue.channel);
  }
}
