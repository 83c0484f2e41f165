/**
 * A minimal typed event emitter that runs in browsers, Node and Deno alike.
 * A listener that throws must not break delivery to the others, so errors are reported (asynchronously, like
 * EventTarget does), not propagated.
 */

export type Listener<T> = (event: T) => void;

export class Emitter<Events extends { [K in keyof Events]: unknown }> {
  #listeners: { [K in keyof Events]?: Set<Listener<Events[K]>> } = {};

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof Events>(type: K, listener: Listener<Events[K]>): () => void {
    // biome-ignore lint/suspicious/noAssignInExpressions: create the set on first use
    (this.#listeners[type] ??= new Set()).add(listener);
    return () => this.off(type, listener);
  }

  off<K extends keyof Events>(type: K, listener: Listener<Events[K]>): void {
    this.#listeners[type]?.delete(listener);
  }

  emit<K extends keyof Events>(type: K, event: Events[K]): void {
    const set = this.#listeners[type];
    if (!set?.size) return;
    // One listener (the hot path) is called without copying the set for every message.
    for (const listener of set.size === 1 ? set : [...set]) {
      try {
        listener(event);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  removeAll(): void {
    this.#listeners = {};
  }
}
