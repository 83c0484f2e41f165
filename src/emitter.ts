/**
 * A minimal typed event emitter that runs in browsers, Node and Deno alike.
 * A listener that throws must not break delivery to the others, so errors are reported, not propagated.
 */

export type Listener<T> = (event: T) => void;

export class Emitter<Events extends { [K in keyof Events]: unknown }> {
  readonly #listeners: { [K in keyof Events]?: Set<Listener<Events[K]>> } = {};
  readonly #onListenerError: (error: unknown) => void;

  constructor(
    onListenerError: (error: unknown) => void = (error) =>
      queueMicrotask(() => {
        throw error;
      }),
  ) {
    this.#onListenerError = onListenerError;
  }

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof Events>(type: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners[type];
    if (!set) {
      set = new Set();
      this.#listeners[type] = set;
    }
    set.add(listener);
    return () => this.off(type, listener);
  }

  once<K extends keyof Events>(type: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(type, (event) => {
      off();
      listener(event);
    });
    return off;
  }

  off<K extends keyof Events>(type: K, listener: Listener<Events[K]>): void {
    this.#listeners[type]?.delete(listener);
  }

  emit<K extends keyof Events>(type: K, event: Events[K]): void {
    const set = this.#listeners[type];
    if (!set || set.size === 0) return;
    if (set.size === 1) {
      // The hot path (one listener per event) without copying the set for every message.
      for (const listener of set) {
        try {
          listener(event);
        } catch (error) {
          this.#onListenerError(error);
        }
      }
      return;
    }
    for (const listener of [...set]) {
      try {
        listener(event);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }

  listenerCount(type: keyof Events): number {
    return this.#listeners[type]?.size ?? 0;
  }

  removeAll(): void {
    for (const key of Object.keys(this.#listeners) as (keyof Events)[]) delete this.#listeners[key];
  }
}
