/**
 * Where the next byte a JSON string scan must look at is (a control byte < 0x20, `"` or `\`), found 16 bytes at
 * a time by WebAssembly SIMD. The plain-JS scanner (src/json-bytes.ts) skips string runs a 32-bit word at a time
 * at about 0.5 ns per byte: 32 µs of a 64 KiB `pub`, a fifth of the server's CPU for it (docs/benchmarks.md,
 * "Large messages (issue 20), fifth round"); here it is about 0.05 ns per byte, plus a copy into the module's
 * memory (a reused 64 KiB page: no fresh pages, no garbage). The module is assembled below from its
 * instructions (no build step, nothing opaque in the source) on first use; a runtime without WebAssembly SIMD
 * gets `undefined` from `simdScanner()` and the caller keeps its JS path.
 */

/** Bytes copied into the module's memory at a time: its one page. */
const CHUNK = 64 * 1024;

const leb = (n: number): number[] => {
  const out: number[] = [];
  do {
    const low = n & 0x7f;
    n >>>= 7;
    out.push(n === 0 ? low : low | 0x80);
  } while (n !== 0);
  return out;
};
const vec = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];
const name = (text: string): number[] => [text.length, ...Array.from(text, (c) => c.charCodeAt(0))];

// Opcodes (WebAssembly 2.0 core + fixed-width SIMD). Locals: 0 `from`, 1 `to` (the params), 2 a v128, 3 an i32.
const I32 = 0x7f;
const V128 = 0x7b;
const SIMD = 0xfd;
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const END = 0x0b;
const get = (local: number): number[] => [0x20, local];
const set = (local: number): number[] => [0x21, local];
const tee = (local: number): number[] => [0x22, local];
/** i32.const of a non-negative n (signed LEB128: a 7th bit set needs one more byte). */
const i32 = (n: number): number[] => {
  const out = [0x41];
  while (n >= 0x40) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
};
const I32_ADD = 0x6a;
const I32_OR = 0x72;
const I32_EQ = 0x46;
const I32_LT_U = 0x49;
const I32_GT_U = 0x4b;
const I32_GE_U = 0x4f;
const I32_CTZ = 0x68;
const BR = 0x0c;
const BR_IF = 0x0d;
const RETURN = 0x0f;
const splat = (byte: number): number[] => [SIMD, 0x0c, ...new Array<number>(16).fill(byte)];
const V128_OR = [SIMD, 0x50];

/** A mask vector of the special bytes among the 16 at `from + offset` (also left in local 2). */
const specials = (offset: number): number[] => [
  ...get(0),
  ...[SIMD, 0x00, 0x00, ...leb(offset)], // v128.load align=1 offset
  ...tee(2),
  ...splat(0x20),
  ...[SIMD, 0x26], // i8x16.lt_u
  ...get(2),
  ...splat(0x22),
  ...[SIMD, 0x23], // i8x16.eq
  ...V128_OR,
  ...get(2),
  ...splat(0x5c),
  ...[SIMD, 0x23],
  ...V128_OR,
];

/** `from += step; continue` (the loop is the innermost label). */
const advance = (step: number): number[] => [...get(0), ...i32(step), I32_ADD, ...set(0), BR, 0];
/** `if (from + width > to) break` out of the loop's block (label 1). */
const exitUnless = (width: number): number[] => [
  ...get(0),
  ...i32(width),
  I32_ADD,
  ...get(1),
  I32_GT_U,
  BR_IF,
  1,
];

/** scan(from, to): the first index in [from, to) of the module's memory holding a special byte, else `to`. */
const SCAN_BODY = [
  // 64 bytes per turn while none is special,
  ...BLOCK,
  ...LOOP,
  ...exitUnless(64),
  ...specials(0),
  ...specials(16),
  ...V128_OR,
  ...specials(32),
  ...V128_OR,
  ...specials(48),
  ...V128_OR,
  ...[SIMD, 0x53], // v128.any_true
  BR_IF,
  1,
  ...advance(64),
  END,
  END,
  // then 16 at a time, where the bitmask of the hit says its index,
  ...BLOCK,
  ...LOOP,
  ...exitUnless(16),
  ...specials(0),
  ...[SIMD, 0x64], // i8x16.bitmask
  ...tee(3),
  ...[0x04, 0x40], // if
  ...get(0),
  ...get(3),
  I32_CTZ,
  I32_ADD,
  RETURN,
  END,
  ...advance(16),
  END,
  END,
  // and the last 0-15 bytes one by one.
  ...BLOCK,
  ...LOOP,
  ...get(0),
  ...get(1),
  I32_GE_U,
  BR_IF,
  1,
  ...get(0),
  ...[0x2d, 0x00, 0x00], // i32.load8_u
  ...tee(3),
  ...i32(0x20),
  I32_LT_U,
  ...get(3),
  ...i32(0x22),
  I32_EQ,
  I32_OR,
  ...get(3),
  ...i32(0x5c),
  I32_EQ,
  I32_OR,
  BR_IF,
  1,
  ...advance(1),
  END,
  END,
  ...get(0),
  END,
];

function assemble(): Uint8Array<ArrayBuffer> {
  const code = [
    ...vec([
      [1, V128],
      [1, I32],
    ]),
    ...SCAN_BODY,
  ];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec([[I32], [I32]]), ...vec([[I32]])]])),
    ...section(3, vec([[0]])),
    ...section(5, vec([[0x00, ...leb(CHUNK >> 16)]])),
    ...section(
      7,
      vec([
        [...name('m'), 0x02, 0],
        [...name('s'), 0x00, 0],
      ]),
    ),
    ...section(10, vec([[...leb(code.length), ...code]])),
  ]);
}

/** Finds special bytes in one message's bytes; `release()` when its scan is over (it caches their copy). */
export interface SimdScanner {
  /** The first index in [from, end) of `bytes` holding a byte < 0x20, `"` or `\`, else `end`. */
  find(bytes: Uint8Array, from: number, end: number): number;
  release(): void;
}

let made: SimdScanner | null | undefined;

/** The scanner, or undefined where WebAssembly SIMD is missing (made once, on first call). */
export function simdScanner(): SimdScanner | undefined {
  if (made === undefined) made = make();
  return made ?? undefined;
}

function make(): SimdScanner | null {
  let instance: WebAssembly.Instance;
  try {
    instance = new WebAssembly.Instance(new WebAssembly.Module(assemble()));
  } catch {
    return null;
  }
  const scan = instance.exports.s as (from: number, to: number) => number;
  const heap = new Uint8Array((instance.exports.m as WebAssembly.Memory).buffer);
  // The range of which bytes the page holds: a string scanned in several calls (escapes, or short strings one
  // after another in object-heavy JSON) is copied once.
  let held: Uint8Array | undefined;
  let heldFrom = 0;
  let heldTo = 0;
  return {
    find(bytes, from, end) {
      for (;;) {
        if (bytes !== held || from < heldFrom || from >= heldTo) {
          heldTo = Math.min(end, from + CHUNK);
          heap.set(bytes.subarray(from, heldTo));
          held = bytes;
          heldFrom = from;
        }
        const limit = Math.min(end, heldTo);
        const at = scan(from - heldFrom, limit - heldFrom) + heldFrom;
        if (at < limit || limit === end) return at;
        from = limit;
      }
    },
    release() {
      held = undefined;
    },
  };
}
