/**
 * A minimal typed event emitter that runs in browsers, Node and Deno alike.
 * A listener that throws must not break delivery to the others, so errors are reported (asynchronously, like
 * EventTarget does), not propagated.
 *
 * Every connection owns one, and most types have zero or one listener, so storage is lazy: no table until the
 * first `on`, and a type's single listener is kept as is, not in a Set (a Set is a hash table, about 150 bytes
 * even empty; this is most of an idle connection's emitter).
 */

export type Listener<T> = (event: T) => void;

type Slot<T> = Listener<T> | Set<Listener<T>>;
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
      // Adding a listener twice keeps one, as with a Set; order of delivery is order of subscription.
      if (slot !== listener) listeners[type] = new Set<Listener<Events[K]>>([slot, listener]);
    } else slot.add(listener);
    return () => this.off(type, listener);
  }

  off<K extends keyof Events>(type: K, listener: Listener<Events[K]>): void {
    const listeners = this.#listeners;
    const slot = listeners?.[type];
    if (slot === undefined || listeners === undefined) return;
    if (typeof slot === 'function') {
      if (slot === listener) delete listeners[type];
    } else slot.delete(listener);
  }

  emit<K extends keyof Events>(type: K, event: Events[K]): void {
    const slot: Slot<Events[K]> | undefined = this.#listeners?.[type];
    if (slot === undefined) return;
    if (typeof slot === 'function') {
      call(slot, event);
      return;
    }
    if (slot.size === 0) return;
    // Copied, so that listeners added or removed by a listener take effect from the next event on.
    for (const listener of [...slot]) call(listener, event);
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
