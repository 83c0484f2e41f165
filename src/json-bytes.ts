/**
 * A JSON validator over UTF-8 bytes: says where one JSON value in `bytes[start..end)` ends, accepting exactly
 * what `JSON.parse` accepts (RFC 8259), without making a string or a value. A large message's `data` can then
 * travel through the server as the bytes it arrived as (src/raw-json.ts): on V8, turning 1 MiB of bytes into a
 * string and parsing it cost 8 ms of a VM's CPU (large-object pages), scanning them costs a fraction of that.
 *
 * Pure and runtime-neutral (Uint8Array only). No recursion (a container stack of bytes) and no allocation per
 * byte; string runs, most of a large payload, are skipped a 32-bit word at a time, or 16 bytes at a time by
 * WebAssembly SIMD once a server installed that scanner (src/json-simd.ts, `useStringScanner`: installed by
 * the server's protocol, so that browser bundles, which never scan bytes, do not carry it). The input must be
 * valid UTF-8 (the rungs validate text frames): bytes >= 0x80 are plain string content.
 */
import type { SimdScanner } from './json-simd.ts';

/** A JSON syntax error, with the byte offset where the JSON broke. */
export class JsonBytesError extends SyntaxError {
  readonly at: number;
  constructor(message: string, at: number) {
    super(`${message} at byte ${at}`);
    this.name = 'JsonBytesError';
    this.at = at;
  }
}

/** Deepest nesting of arrays and objects accepted (JSON.parse's own limit is the stack, in the thousands). */
export const MAX_JSON_DEPTH = 1000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OBJECT = 1;
const ARRAY = 2;

/** Open containers of the value being scanned; one per module: a scan is synchronous and never reentered. */
const stack = new Uint8Array(MAX_JSON_DEPTH);

/** Ranges shorter than this are scanned byte by byte (neither a word view nor a copy is worth making). */
const WORDS_MIN_BYTES = 256;

/** The aligned 32-bit words of the current scan's range, and where word 0 starts (an index into `bytes`). */
let words: Uint32Array | undefined;
let wordsFrom = 0;

/** The installed SIMD scanner, if any; `simd` is it during a scan of a long range (else `words` are used). */
let installed: SimdScanner | undefined;
let simd: SimdScanner | undefined;

/**
 * Installs the scanner that skips long strings (`simdScanner()` of src/json-simd.ts; undefined: the JS word
 * loop). Either accepts exactly the same JSON; the server's protocol installs the SIMD one.
 */
export function useStringScanner(scanner: SimdScanner | undefined): void {
  installed = scanner;
}

/** The scanner in use for long strings (undefined: the JS word loop). */
export function stringScanner(): SimdScanner | undefined {
  return installed;
}

function fail(message: string, at: number): never {
  throw new JsonBytesError(message, at);
}

function whatIsAt(bytes: Uint8Array, at: number, end: number): string {
  if (at >= end) return 'unexpected end of JSON';
  const c = bytes[at] as number;
  return c >= 0x21 && c < 0x7f
    ? `unexpected '${String.fromCharCode(c)}'`
    : `unexpected byte 0x${c.toString(16)}`;
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

export function skipWhitespace(bytes: Uint8Array, at: number, end: number): number {
  while (at < end && isWhitespace(bytes[at] as number)) at++;
  return at;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** `\` at `at`: where the escape ends. Lone surrogates (`\ud800`) are valid JSON, as JSON.parse says. */
function scanEscape(bytes: Uint8Array, at: number, end: number): number {
  if (at + 1 >= end) fail('unterminated string', end);
  const c = bytes[at + 1] as number;
  if (
    c === QUOTE ||
    c === BACKSLASH ||
    c === 0x2f ||
    c === 0x62 ||
    c === 0x66 ||
    c === 0x6e ||
    c === 0x72 ||
    c === 0x74
  ) {
    return at + 2;
  }
  if (c !== 0x75) fail('bad escape in string', at);
  if (at + 6 > end) fail('unterminated string', end);
  for (let i = at + 2; i < at + 6; i++) if (!isHex(bytes[i] as number)) fail('bad \\u escape in string', at);
  return at + 6;
}

/**
 * Index of the first word at or after `at` that holds a byte < 0x20, a `"` or a `\` (or `words.length`).
 * `(x - 0x01010101) & ~x & 0x80808080` is non-zero iff x has a zero byte; with 0x20 in each byte it finds
 * a byte below 0x20 (exact for thresholds up to 0x80); the xors turn `"` and `\` into zero bytes.
 */
function plainWordsUntil(w: Uint32Array, k: number, n: number = w.length): number {
  while (k < n) {
    const x = w[k] as number;
    const q = x ^ 0x22222222;
    const s = x ^ 0x5c5c5c5c;
    if ((((x - 0x20202020) & ~x) | ((q - 0x01010101) & ~q) | ((s - 0x01010101) & ~s)) & 0x80808080) break;
    k++;
  }
  return k;
}

/** `at` is just after an opening quote: the index after the closing one. */
export function scanString(bytes: Uint8Array, at: number, end: number): number {
  if (simd !== undefined) return scanStringSimd(simd, bytes, at, end);
  const w = words;
  // Keys and short strings end within a few bytes: the words only from a string's 16th byte on.
  const wordsAt = at + 16;
  while (at < end) {
    if (w !== undefined && at >= wordsAt && ((at - wordsFrom) & 3) === 0) {
      const k = (at - wordsFrom) >> 2;
      if (k >= 0 && k < w.length) at = wordsFrom + plainWordsUntil(w, k) * 4;
      if (at >= end) break;
    }
    const c = bytes[at] as number;
    if (c === QUOTE) return at + 1;
    if (c === BACKSLASH) at = scanEscape(bytes, at, end);
    else if (c < 0x20) fail('control character in string', at);
    else at++;
  }
  return fail('unterminated string', end);
}

/**
 * scanString with the SIMD scanner. A string's first 32 bytes are scanned here, byte by byte (keys and the short
 * strings of object-heavy JSON end there; words would cost more than they save); a string still going continues
 * in scanStringTail.
 */
function scanStringSimd(scanner: SimdScanner, bytes: Uint8Array, at: number, end: number): number {
  const plainTo = Math.min(end, at + 32);
  for (;;) {
    if (at >= plainTo) return scanStringTail(scanner, bytes, at, end, at + 224);
    const c = bytes[at] as number;
    if (c === QUOTE) return at + 1;
    if (c === BACKSLASH) at = scanEscape(bytes, at, end);
    else if (c < 0x20) fail('control character in string', at);
    else at++;
  }
}

/**
 * The rest of a string from its 32nd byte: by words up to `simdAt` (256 bytes in), then by the SIMD scanner. A
 * call into WebAssembly costs about what 20-30 bytes of a byte loop do, so lines of text (tens to a few hundred
 * bytes) are cheaper by words: bench/json-scan.ts's document of ~66-byte lines decodes in 62-69 µs, against 113-141
 * with bytes up to 64 and a call there (docs/benchmarks.md, ninth round). Its loop is scanString's with the SIMD
 * hand-over added, spelled twice on purpose: one function for both (words from `wordsAt`, SIMD from `simdAt`, the
 * scanner optional) measured 826-928 µs on json-scan's objects against 609-611 for the two.
 */
function scanStringTail(
  scanner: SimdScanner,
  bytes: Uint8Array,
  at: number,
  end: number,
  simdAt: number,
): number {
  const w = words;
  while (at < end) {
    if (at >= simdAt) {
      at = scanner.find(bytes, at, end);
      if (at >= end) break;
    } else if (w !== undefined && ((at - wordsFrom) & 3) === 0) {
      const k = (at - wordsFrom) >> 2;
      // Words up to the first one at or past simdAt: a long string is then the scanner's.
      const last = Math.min(w.length, (simdAt - wordsFrom + 3) >> 2);
      if (k >= 0 && k < last) {
        at = wordsFrom + plainWordsUntil(w, k, last) * 4;
        if (at >= end) break;
        if (at >= simdAt) continue;
      }
    }
    const c = bytes[at] as number;
    if (c === QUOTE) return at + 1;
    if (c === BACKSLASH) at = scanEscape(bytes, at, end);
    else if (c < 0x20) fail('control character in string', at);
    else at++;
  }
  return fail('unterminated string', end);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` from `at`: where it ends. */
function scanNumber(bytes: Uint8Array, at: number, end: number): number {
  let i = at;
  if (bytes[i] === 0x2d) i++;
  if (i >= end || !isDigit(bytes[i] as number)) fail('bad number', at);
  if (bytes[i] === 0x30) i++;
  else while (i < end && isDigit(bytes[i] as number)) i++;
  if (i < end && bytes[i] === 0x2e) {
    i++;
    if (i >= end || !isDigit(bytes[i] as number)) fail('bad number', at);
    while (i < end && isDigit(bytes[i] as number)) i++;
  }
  if (i < end && (bytes[i] === 0x65 || bytes[i] === 0x45)) {
    i++;
    if (i < end && (bytes[i] === 0x2b || bytes[i] === 0x2d)) i++;
    if (i >= end || !isDigit(bytes[i] as number)) fail('bad number', at);
    while (i < end && isDigit(bytes[i] as number)) i++;
  }
  return i;
}

/** `word` (true, false, null: ASCII) at `at`: where it ends. */
function scanLiteral(bytes: Uint8Array, at: number, end: number, word: string): number {
  if (at + word.length > end) fail(`expected ${word}`, at);
  for (let i = 0; i < word.length; i++) {
    if (bytes[at + i] !== word.charCodeAt(i)) fail(`expected ${word}`, at);
  }
  return at + word.length;
}

/** An object key and its colon from `at` (whitespace first): the index after the colon. */
function scanKey(bytes: Uint8Array, at: number, end: number): number {
  at = skipWhitespace(bytes, at, end);
  if (at >= end || bytes[at] !== QUOTE) fail(`${whatIsAt(bytes, at, end)}, expected a key`, at);
  at = skipWhitespace(bytes, scanString(bytes, at + 1, end), end);
  if (at >= end || bytes[at] !== 0x3a) fail(`${whatIsAt(bytes, at, end)}, expected ':'`, at);
  return at + 1;
}

/** One value from `at` (no leading whitespace skipped): the index after it. */
function scanValueAt(bytes: Uint8Array, at: number, end: number): number {
  let depth = 0;
  for (;;) {
    // A value is expected at `at`.
    at = skipWhitespace(bytes, at, end);
    if (at >= end) fail('unexpected end of JSON', at);
    const c = bytes[at] as number;
    if (c === QUOTE) at = scanString(bytes, at + 1, end);
    else if (c === 0x7b || c === 0x5b) {
      if (depth === MAX_JSON_DEPTH) fail(`nested deeper than ${MAX_JSON_DEPTH}`, at);
      const close = c === 0x7b ? 0x7d : 0x5d;
      const inner = skipWhitespace(bytes, at + 1, end);
      if (inner < end && bytes[inner] === close) at = inner + 1;
      else {
        stack[depth++] = c === 0x7b ? OBJECT : ARRAY;
        at = c === 0x7b ? scanKey(bytes, inner, end) : inner;
        continue;
      }
    } else if (c === 0x2d || isDigit(c)) at = scanNumber(bytes, at, end);
    else if (c === 0x74) at = scanLiteral(bytes, at, end, 'true');
    else if (c === 0x66) at = scanLiteral(bytes, at, end, 'false');
    else if (c === 0x6e) at = scanLiteral(bytes, at, end, 'null');
    else fail(whatIsAt(bytes, at, end), at);
    // A value ended at `at`: close containers until one continues with a comma.
    for (;;) {
      if (depth === 0) return at;
      at = skipWhitespace(bytes, at, end);
      const next = at < end ? (bytes[at] as number) : -1;
      const top = stack[depth - 1];
      if (next === 0x2c) {
        at = top === OBJECT ? scanKey(bytes, at + 1, end) : at + 1;
        break;
      }
      if (next !== (top === OBJECT ? 0x7d : 0x5d)) {
        fail(`${whatIsAt(bytes, at, end)}, expected ',' or '${top === OBJECT ? '}' : ']'}'`, at);
      }
      depth--;
      at++;
    }
  }
}

/**
 * Runs `scan` with the aligned word view of `bytes[start..end)` in place when the range is long enough: the
 * scans inside it (scanJsonValue, scanString) skip string runs by words. One view for several scans of the same
 * bytes (the fields of an envelope) instead of one each.
 */
export function scanning<T>(bytes: Uint8Array, start: number, end: number, scan: () => T): T {
  if (words !== undefined || simd !== undefined || end - start < WORDS_MIN_BYTES) return scan();
  const from = start + ((4 - ((bytes.byteOffset + start) & 3)) & 3);
  words = new Uint32Array(bytes.buffer, bytes.byteOffset + from, (end - from) >> 2);
  wordsFrom = from;
  // With the SIMD scanner installed, the words still take strings of tens of bytes (scanStringTail).
  const scanner = installed;
  simd = scanner;
  try {
    return scan();
  } finally {
    words = undefined;
    simd = undefined;
    scanner?.release();
  }
}

/**
 * One JSON value starting at `start` (after optional whitespace) and ending at or before `end`: the index
 * just after it (trailing bytes are the caller's). Throws a `JsonBytesError` where the JSON breaks.
 */
export function scanJsonValue(bytes: Uint8Array, start: number, end: number = bytes.length): number {
  return scanning(bytes, start, end, () => scanValueAt(bytes, start, end));
}

/** Whether `bytes[start..end)` is exactly one JSON value with optional whitespace around it, as JSON.parse. */
export function validateJson(bytes: Uint8Array, start = 0, end: number = bytes.length): void {
  const after = skipWhitespace(bytes, scanJsonValue(bytes, start, end), end);
  if (after < end) fail(`${whatIsAt(bytes, after, end)} after the JSON value`, after);
}
