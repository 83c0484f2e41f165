/**
 * The dedup window must answer exactly as a Map of id -> value beside a ring of the last `limit` ids would (what
 * it replaced), for ids kept as bytes and as strings, across its growth, its wrap-around and hash collisions.
 */
import { describe, expect, it } from 'vitest';
import { DedupWindow, FNV_BASIS, INLINE_ID_BYTES } from './dedup-window.ts';

/** The reference: the session's window as it was before, a Map and a ring of ids. */
class ModelWindow<V> {
  readonly seen = new Map<string, V>();
  readonly #ring: (string | undefined)[];
  #next = 0;
  constructor(limit: number) {
    this.#ring = new Array(limit);
  }
  get(id: string): V | undefined {
    return this.seen.get(id);
  }
  add(id: string, value: V | undefined): void {
    const forgotten = this.#ring[this.#next];
    // Tied to the slot: an id forgotten early and remembered again in a newer slot is not dropped with the old.
    if (forgotten !== undefined && this.seen.get(forgotten) !== undefined) this.seen.delete(forgotten);
    this.#ring[this.#next] = value === undefined ? undefined : id;
    this.#next = (this.#next + 1) % this.#ring.length;
    if (value !== undefined) this.seen.set(id, value);
  }
  set(id: string, value: V | undefined): void {
    if (!this.seen.has(id)) return;
    if (value === undefined) {
      this.seen.delete(id);
      const slot = this.#ring.indexOf(id);
      if (slot >= 0) this.#ring[slot] = undefined;
    } else this.seen.set(id, value);
  }
}

/** A small deterministic generator (mulberry32), so a failure is reproducible. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('DedupWindow', () => {
  it('remembers the last `limit` ids and forgets the oldest first', () => {
    const window = new DedupWindow<number>(3);
    for (const [i, id] of ['a', 'b', 'c'].entries()) window.add(id, i);
    expect([window.get('a'), window.get('b'), window.get('c')]).toEqual([0, 1, 2]);
    window.add('d', 3);
    expect(window.get('a')).toBeUndefined();
    expect([window.get('b'), window.get('c'), window.get('d')]).toEqual([1, 2, 3]);
    expect(window.size).toBe(3);
  });

  it('a slot used without a value counts in the window but remembers nothing', () => {
    const window = new DedupWindow<number>(2);
    window.add('a', 1);
    window.add('b', undefined);
    expect(window.get('b')).toBeUndefined();
    expect(window.size).toBe(1);
    window.add('c', 3);
    // 'b' took a slot: 'a' was the oldest and is gone.
    expect(window.get('a')).toBeUndefined();
    expect(window.get('c')).toBe(3);
  });

  it('set replaces a value, forgets with undefined, and ignores ids it does not hold', () => {
    const window = new DedupWindow<string>(4);
    window.add('a', 'pending');
    window.set('a', 'done');
    expect(window.get('a')).toBe('done');
    window.set('zz', 'x');
    expect(window.get('zz')).toBeUndefined();
    window.set('a', undefined);
    expect(window.get('a')).toBeUndefined();
    expect(window.size).toBe(0);
    window.add('a', 'again');
    expect(window.get('a')).toBe('again');
  });

  it('a common value is answered as stored, replaced both ways, and forgotten like any other', () => {
    const common = { ok: true };
    const other = { ok: false };
    const window = new DedupWindow<object>(2, common);
    window.add('a', common);
    window.add('b', other);
    expect([window.get('a'), window.get('b')]).toEqual([common, other]);
    window.set('b', common);
    window.set('a', other);
    expect(window.get('a')).toBe(other);
    expect(window.get('b')).toBe(common);
    window.add('c', common);
    expect([window.get('a'), window.get('b'), window.get('c')]).toEqual([undefined, common, common]);
    window.set('b', undefined);
    expect(window.get('b')).toBeUndefined();
  });

  it('keeps long ids and ids beyond one byte per character as strings, telling them apart exactly', () => {
    const window = new DedupWindow<number>(8);
    const long = 'x'.repeat(INLINE_ID_BYTES + 1);
    const prefix = 'x'.repeat(INLINE_ID_BYTES);
    window.add(long, 1);
    window.add(prefix, 2);
    window.add('é', 3);
    window.add('ĕ', 4);
    window.add('\u0101', 5);
    expect(window.get(long)).toBe(1);
    expect(window.get(prefix)).toBe(2);
    expect(window.get('é')).toBe(3);
    expect(window.get('ĕ')).toBe(4);
    // U+0101 is not U+0001 nor 'A' + anything: a character above 0xff is never cut to a byte.
    expect(window.get('\u0001')).toBeUndefined();
    expect(window.get('\u0101')).toBe(5);
    expect(window.get('')).toBeUndefined();
    window.add('', 6);
    expect(window.get('')).toBe(6);
  });

  it('ids with the same 32-bit hash are both remembered and forgotten one at a time', () => {
    // FNV-1a of both is -1716927573 with the standard basis (found by search): the table compares the ids, not
    // just their hashes. (Servers hash from a per-process basis, so such a pair cannot be precomputed.)
    const [x, y] = ['id-5pvu', 'id-c3ea'];
    const window = new DedupWindow<number>(2, undefined, FNV_BASIS);
    window.add(x, 1);
    expect(window.get(y)).toBeUndefined();
    window.add(y, 2);
    expect([window.get(x), window.get(y)]).toEqual([1, 2]);
    window.add('other', 3);
    expect([window.get(x), window.get(y)]).toEqual([undefined, 2]);
  });

  it('answers as the Map and ring it replaced, over random operations across growth and wrap-around', () => {
    for (const limit of [1, 5, 16, 17, 100, 4096]) {
      const next = random(limit);
      // Half of them with a common value (kept as no value): a session's PUBLISHED.
      const common = limit % 2 === 1 ? -1 : undefined;
      const window = new DedupWindow<number>(limit, common);
      const model = new ModelWindow<number>(limit);
      const pool = limit * 3;
      const pick = () => {
        const n = Math.floor(next() * pool);
        // Short ids (kept as bytes), long ones and non-Latin-1 ones (kept as strings).
        return n % 7 === 0 ? `${'long-'.repeat(10)}${n}` : n % 11 === 0 ? `ü-ĕ-${n}` : `id-${n}`;
      };
      const mismatches: string[] = [];
      for (let step = 0; step < limit * 20 + 200; step++) {
        const id = pick();
        const r = next();
        if (r < 0.1) {
          const value = next() < 0.5 ? undefined : next() < 0.5 ? -1 : step;
          window.set(id, value);
          model.set(id, value);
        } else if (model.get(id) === undefined) {
          const value = r < 0.15 ? undefined : r < 0.6 ? -1 : step;
          window.add(id, value);
          model.add(id, value);
        }
        if (window.get(id) !== model.get(id) || window.size !== model.seen.size) {
          mismatches.push(`limit ${limit}, step ${step}: ${id}`);
        }
      }
      for (let n = 0; n < pool; n++) {
        for (const id of [`id-${n}`, `${'long-'.repeat(10)}${n}`, `ü-ĕ-${n}`]) {
          if (window.get(id) !== model.get(id)) mismatches.push(`limit ${limit}, at the end: ${id}`);
        }
      }
      expect(mismatches).toEqual([]);
    }
  });
});
