/**
 * A session's dedup window: the last `limit` client message ids and what each one's `pub` came to, in memory
 * that is allocated once (and grown by doubling up to the window), not per id.
 *
 * It replaces a Map of id -> outcome plus a ring of the ids. Under a steady `pub` load that Map churned: one
 * insertion and one deletion per message, and a rebuilt backing store (thousands of entries) whenever the
 * deleted entries filled it. Here the ring's slots are
 * overwritten in place, and the lookup is an open-addressing table of slot numbers in a typed array, keyed by a
 * 32-bit hash of the id; ids are compared in full only on a hash match, so a collision costs a compare, never a
 * wrong answer.
 *
 * An id of up to INLINE_ID_BYTES one-byte characters (a UUID, the client's default, is 36) is kept as its bytes
 * in the slot, not as the string: a string kept for thousands of messages outlives two young-generation
 * collections and is promoted, and that alone grew the old generation by ~40 bytes per `pub` and caused every
 * full collection of a steady 64 KiB `pub` -> `ack` load (--trace-gc-nvp; docs/benchmarks.md, fifth round).
 * Longer ids, or ids with other characters, are kept as strings.
 */

/**
 * FNV-1a over the UTF-16 code units (ids are short, and this allocates nothing), from a basis chosen per process:
 * the ids are the client's, and with the standard basis a client could pick ids whose hashes share their low bits
 * offline and make every lookup of its session probe the whole table.
 */
function hashId(id: string, basis: number): number {
  let h = basis;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h | 0;
}

/** The standard FNV-1a offset basis (tests pass it to reproduce known collisions). */
export const FNV_BASIS = 0x811c9dc5 | 0;
const PROCESS_BASIS = (Math.random() * 0x1_0000_0000) | 0;

const FIRST_CAPACITY = 16;
/** Bytes of id kept in the slot itself. */
export const INLINE_ID_BYTES = 40;

/** Whether `id` is kept as bytes: short enough, and every character one byte. */
function inlinable(id: string): boolean {
  if (id.length > INLINE_ID_BYTES) return false;
  for (let i = 0; i < id.length; i++) if (id.charCodeAt(i) > 0xff) return false;
  return true;
}

/** `#lengths` of a slot whose id is kept as a string. */
const STRING_ID = 0xff;

export class DedupWindow<V> {
  readonly #limit: number;
  /** Slots in the ring now (grown by doubling up to the window). */
  #capacity: number;
  /** Ring slot -> an id kept as a string (not inlinable); made for the first such id. */
  #ids: (string | undefined)[] | undefined;
  /** Ring slot -> its id's bytes, INLINE_ID_BYTES per slot. */
  #bytes: Uint8Array;
  /** Ring slot -> 0 when it holds no id, 1 + the id's length when kept as bytes, STRING_ID when kept in `#ids`. */
  #lengths: Uint8Array;
  /**
   * The value most ids have (a session's: PUBLISHED), kept as no value at all: a slot whose id is remembered
   * and whose `#values` entry is undefined has this one.
   */
  readonly #common: V | undefined;
  /** Ring slot -> the id's value when it is not the common one; made for the first such value. */
  #values: (V | undefined)[] | undefined;
  /** Ring slot -> hash of its id (so the table never hashes an id twice). */
  #hashes: Int32Array;
  /** Open addressing, linear probing: ring slot + 1, 0 for an empty cell; at least twice the ring's size. */
  #table: Int32Array;
  /** The ring slot the next id takes (the oldest one once the ring is full). */
  #next = 0;
  /** Ring slots used so far (the ring grows when this reaches its size and the window is larger). */
  #used = 0;
  /** Ids remembered now. */
  #size = 0;

  readonly #basis: number;

  constructor(limit: number, common?: V, hashBasis = PROCESS_BASIS) {
    this.#basis = hashBasis;
    this.#common = common;
    this.#limit = Math.max(1, limit);
    const capacity = Math.min(this.#limit, FIRST_CAPACITY);
    this.#capacity = capacity;
    this.#bytes = new Uint8Array(capacity * INLINE_ID_BYTES);
    this.#lengths = new Uint8Array(capacity);
    this.#hashes = new Int32Array(capacity);
    this.#table = new Int32Array(tableSize(capacity));
  }

  /** Ids remembered now. */
  get size(): number {
    return this.#size;
  }

  get(id: string): V | undefined {
    const slot = this.#find(id, hashId(id, this.#basis));
    return slot < 0 ? undefined : (this.#values?.[slot] ?? this.#common);
  }

  /**
   * Takes the next slot of the ring for `id`: the oldest id is forgotten when the window is full. With a value,
   * `id` is remembered with it (an id already remembered must not be passed: `get` it first); without one, the
   * slot is used and nothing is remembered, as a message the window counted but must not answer from here.
   */
  add(id: string, value: V | undefined): void {
    if (this.#used === this.#capacity && this.#capacity < this.#limit) this.#grow();
    const slot = this.#next;
    if (this.#lengths[slot] !== 0) this.#remove(slot);
    this.#next = slot + 1 === this.#capacity ? 0 : slot + 1;
    if (this.#used < this.#capacity) this.#used++;
    if (value === undefined) return;
    const hash = hashId(id, this.#basis);
    if (inlinable(id)) {
      const bytes = this.#bytes;
      const at = slot * INLINE_ID_BYTES;
      for (let i = 0; i < id.length; i++) bytes[at + i] = id.charCodeAt(i);
      this.#lengths[slot] = id.length + 1;
    } else {
      // biome-ignore lint/suspicious/noAssignInExpressions: made for the first id that needs it
      const ids = (this.#ids ??= new Array(this.#capacity));
      ids[slot] = id;
      this.#lengths[slot] = STRING_ID;
    }
    this.#store(slot, value);
    this.#hashes[slot] = hash;
    this.#insert(slot, hash);
  }

  /** Gives a remembered id another value, or forgets it (undefined); an id not remembered is left so. */
  set(id: string, value: V | undefined): void {
    const slot = this.#find(id, hashId(id, this.#basis));
    if (slot < 0) return;
    if (value === undefined) this.#remove(slot);
    else this.#store(slot, value);
  }

  #store(slot: number, value: V): void {
    if (value !== this.#common) {
      // biome-ignore lint/suspicious/noAssignInExpressions: made for the first value that needs it
      (this.#values ??= new Array(this.#capacity))[slot] = value;
    } else if (this.#values) this.#values[slot] = undefined;
  }

  #find(id: string, hash: number): number {
    const table = this.#table;
    const mask = table.length - 1;
    for (let cell = hash & mask; ; cell = (cell + 1) & mask) {
      const entry = table[cell] as number;
      if (entry === 0) return -1;
      const slot = entry - 1;
      if (this.#hashes[slot] === hash && this.#holds(slot, id)) return slot;
    }
  }

  #holds(slot: number, id: string): boolean {
    const length = this.#lengths[slot] as number;
    if (length === STRING_ID) return (this.#ids as (string | undefined)[])[slot] === id;
    if (length !== id.length + 1) return false;
    const bytes = this.#bytes;
    const at = slot * INLINE_ID_BYTES;
    for (let i = 0; i < id.length; i++) if (bytes[at + i] !== id.charCodeAt(i)) return false;
    return true;
  }

  #insert(slot: number, hash: number): void {
    const table = this.#table;
    const mask = table.length - 1;
    let cell = hash & mask;
    while (table[cell] !== 0) cell = (cell + 1) & mask;
    table[cell] = slot + 1;
    this.#size++;
  }

  /** Forgets the id in `slot`: its cell is emptied and the cells after it shifted back (no tombstones). */
  #remove(slot: number): void {
    const table = this.#table;
    const mask = table.length - 1;
    let hole = (this.#hashes[slot] as number) & mask;
    while (table[hole] !== slot + 1) hole = (hole + 1) & mask;
    for (let cell = (hole + 1) & mask; table[cell] !== 0; cell = (cell + 1) & mask) {
      const home = (this.#hashes[(table[cell] as number) - 1] as number) & mask;
      // The entry may move into the hole unless its home lies cyclically in (hole, cell].
      const stays = hole <= cell ? home > hole && home <= cell : home > hole || home <= cell;
      if (stays) continue;
      table[hole] = table[cell] as number;
      hole = cell;
    }
    table[hole] = 0;
    if (this.#lengths[slot] === STRING_ID) (this.#ids as (string | undefined)[])[slot] = undefined;
    this.#lengths[slot] = 0;
    if (this.#values) this.#values[slot] = undefined;
    this.#size--;
  }

  /** Twice the ring (up to the window). The ring is full, so its oldest slot is 0 and the next is the old size. */
  #grow(): void {
    const old = this.#capacity;
    const capacity = Math.min(this.#limit, old * 2);
    this.#capacity = capacity;
    if (this.#values) this.#values = lengthened(this.#values, capacity);
    if (this.#ids) this.#ids = lengthened(this.#ids, capacity);
    this.#bytes = grown(this.#bytes, capacity * INLINE_ID_BYTES);
    this.#lengths = grown(this.#lengths, capacity);
    this.#hashes = grown(this.#hashes, capacity);
    this.#table = new Int32Array(tableSize(capacity));
    this.#size = 0;
    for (let slot = 0; slot < old; slot++) {
      if (this.#lengths[slot] !== 0) this.#insert(slot, this.#hashes[slot] as number);
    }
    this.#next = old;
  }
}

/** The slots of `array` in a new array of `length` (holey, like the ones made with `new Array(capacity)`). */
function lengthened<T>(array: readonly (T | undefined)[], length: number): (T | undefined)[] {
  const bigger: (T | undefined)[] = new Array(length);
  for (let slot = 0; slot < array.length; slot++) bigger[slot] = array[slot];
  return bigger;
}

function grown<T extends Uint8Array | Int32Array>(array: T, length: number): T {
  const bigger = new (array.constructor as new (length: number) => T)(length);
  bigger.set(array);
  return bigger;
}

/** A power of two at least twice `capacity`: linear probing stays short at a load of at most one half. */
function tableSize(capacity: number): number {
  let size = 4;
  while (size < capacity * 2) size *= 2;
  return size;
}
