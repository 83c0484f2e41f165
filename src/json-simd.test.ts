/**
 * The WebAssembly SIMD scanner against a byte-by-byte reference: every special byte (< 0x20, `"`, `\`) at every
 * position of a 16- and 64-byte block, ranges of any length and alignment, and ranges that span its 64 KiB copy
 * chunks, scanned in one call or continued call after call on the same bytes (its cached copy).
 */
import { describe, expect, it } from 'vitest';
import { simdScanner } from './json-simd.ts';

function reference(bytes: Uint8Array, from: number, end: number): number {
  for (let i = from; i < end; i++) {
    const c = bytes[i] as number;
    if (c < 0x20 || c === 0x22 || c === 0x5c) return i;
  }
  return end;
}

describe('SIMD special-byte scanner', () => {
  const scanner = simdScanner();

  it('exists on Node (WebAssembly SIMD)', () => {
    expect(scanner).toBeDefined();
  });

  it('finds each special byte, and no other, at every position of the first 200 bytes', () => {
    const s = scanner!;
    for (let c = 0; c < 256; c++) {
      const special = c < 0x20 || c === 0x22 || c === 0x5c;
      for (let at = 0; at < 200; at++) {
        const bytes = new Uint8Array(300).fill(0x61);
        bytes[at] = c;
        for (const from of [0, 1, 7]) {
          const expected = from > at || !special ? 300 : at;
          expect(s.find(bytes, from, 300)).toBe(expected);
          s.release();
        }
      }
    }
  });

  it('agrees with the reference on random ranges, chunk boundaries and continued scans', () => {
    const s = scanner!;
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const specials = [0x22, 0x5c, 0x00, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xff];
    for (let round = 0; round < 300; round++) {
      const n = 1 + Math.floor(random() * 200_000);
      const bytes = new Uint8Array(n).fill(0x78);
      const hits = Math.floor(random() * 6);
      for (let h = 0; h < hits; h++) {
        const near =
          random() < 0.5 ? 65_536 * Math.floor(random() * 3) + Math.floor(random() * 40) - 20 : random() * n;
        bytes[Math.max(0, Math.min(n - 1, Math.floor(near)))] = specials[
          Math.floor(random() * specials.length)
        ] as number;
      }
      const end = n - Math.floor(random() * Math.min(n, 40));
      // Continued scans over the same bytes: from each hit onwards, as a string scan with escapes does.
      let from = Math.floor(random() * Math.min(end, 100));
      for (;;) {
        const at = s.find(bytes, from, end);
        expect(at).toBe(reference(bytes, from, end));
        if (at >= end) break;
        from = at + 1 + Math.floor(random() * 3);
        if (from >= end) break;
      }
      s.release();
    }
  });

  it('does not serve a stale copy after release (same bytes changed between two scans)', () => {
    const s = scanner!;
    const bytes = new Uint8Array(1000).fill(0x78);
    expect(s.find(bytes, 0, 1000)).toBe(1000);
    s.release();
    bytes[500] = 0x22;
    expect(s.find(bytes, 0, 1000)).toBe(500);
    s.release();
  });
});
