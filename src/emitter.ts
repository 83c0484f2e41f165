/**
 * A minimal typed event emitter that runs in browsers, Node and Deno alike.
 * A listener that throws must not break delivery to the others, so errors are reported (asynchronously, like
 * EventTarget does), not propagated.
 *
 * Every connection owns one, and most types have zero or one listener, so storage is lazy: no table until the
 * first `on`, a type's single listener is kept as is, and several in a small array (a Set is a hash table of
 * about 170 bytes even for two entries; types have a handful of listeners at most, so a linear scan is cheaper).
 */

export type Listener<T> = (event: T) => void;

type Slot<T> = Listener<T> | Listener<T>[];
type Table<Events> = { [K in keyof Events]?: Slot<Events[K]> };

export class Emitter<Events extends { [K in keyof Events]: unknown }> {
  #listeners: Table<Events> | undefined;

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof Events>(type: K, listener: Listener<Events[K]>): () => void {
    // biome-ignore lint/suspicious/noAssignInExpressions: create the table on first use
    const listeners: Table<Events> = (this.#listeners ??= {});
    const slot: Slot<Events[K]> | undefined = listeners[type];
    if (slot === undefined) listeners[type] = listener;
    else if (typeof slot === 'function') {
      // Adding a listener twice keeps one (as EventTarget does); order of delivery is order of subscription.
      if (slot !== listener) listeners[type] = [slot, listener];
    } else if (!slot.includes(listener)) slot.push(listener);
    return () => this.off(type, listener);
  }

  off<K extends keyof Events>(type: K, listener: Listener<Events[K]>): void {
    const listeners = this.#listeners;
    const slot = listeners?.[type];
    if (slot === undefined || listeners === undefined) return;
    if (typeof slot === 'function') {
      if (slot === listener) delete listeners[type];
    } else {
      const index = slot.indexOf(listener);
      if (index >= 0) slot.splice(index, 1);
    }
  }

  emit<K extends keyof Events>(type: K, event: Events[K]): void {
    const slot: Slot<Events[K]> | undefined = this.#listeners?.[type];
    if (slot === undefined) return;
    if (typeof slot === 'function') {
      call(slot, event);
      return;
    }
    if (slot.length === 0) return;
    // Copied, so that listeners added or removed by a listener take effect from the next event on.
    for (const listener of slot.slice()) call(listener, event);
  }

  removeAll(): void {
    this.#listeners = undefined;
  }
}

function call<T>(listener: Listener<T>, event: T): void {
  try {
    listener(event);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}
