/**
 * A JSON envelope decoded from its UTF-8 bytes, field by field, so that a large `data` stays bytes (a
 * `RawJson`) instead of becoming a string and a value: the envelope's other fields are small and parsed as
 * usual. The result is what `JSON.parse` + `parseEnvelope` give for the same text (duplicate keys: the last
 * wins; `__proto__` is a plain key), `data` aside. Used from RAW_JSON_MIN_BYTES on; below it decoding the
 * whole text at once is cheaper.
 */
import { CloseCode } from './close-codes.ts';
import { type Envelope, parseEnvelope } from './envelope.ts';
import { SwitchyardError } from './errors.ts';
import { JsonBytesError, scanJsonValue, scanning, scanString, skipWhitespace } from './json-bytes.ts';
import { RawJson } from './raw-json.ts';
import { decodeValidUtf8 } from './utf8.ts';

/** From this many bytes on, a `data` value is kept as a RawJson (and a message is decoded from its bytes). */
export const RAW_JSON_MIN_BYTES = 16 * 1024;

function invalid(message: string, cause?: unknown): SwitchyardError {
  return new SwitchyardError('ERR_INVALID_ENVELOPE', `json codec: ${message}`, {
    closeCode: CloseCode.BadEnvelope,
    cause,
  });
}

/** Short ASCII without escapes, as the protocol's keys, ids, topics and numbers are: its string, or undefined. */
function ascii(bytes: Uint8Array, from: number, to: number): string | undefined {
  if (to - from > 64) return undefined;
  let text = '';
  for (let i = from; i < to; i++) {
    const c = bytes[i] as number;
    if (c >= 0x80 || c === 0x5c) return undefined;
    text += String.fromCharCode(c);
  }
  return text;
}

/**
 * A small validated JSON value from its bytes: plain strings and numbers without a parser (a Buffer and a parse
 * per field were most of the cost of decoding an envelope of 16-64 KiB), the rest with JSON.parse.
 */
function smallValue(bytes: Uint8Array, from: number, to: number): unknown {
  const first = bytes[from] as number;
  if (first === 0x22) {
    const text = ascii(bytes, from + 1, to - 1);
    if (text !== undefined) return text;
  } else if (first === 0x2d || (first >= 0x30 && first <= 0x39)) {
    // Number() reads every JSON number as JSON.parse does (-0 included).
    const text = ascii(bytes, from, to);
    if (text !== undefined) return Number(text);
  }
  return JSON.parse(decodeValidUtf8(bytes.subarray(from, to)));
}

function set(record: Record<string, unknown>, key: string, value: unknown): void {
  // JSON.parse makes `__proto__` an own property; an assignment would set the prototype instead.
  if (key === '__proto__') {
    Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
  } else record[key] = value;
}

function expect(bytes: Uint8Array, at: number, end: number, byte: number, what: string): void {
  if (at >= end || bytes[at] !== byte) {
    throw new JsonBytesError(
      `${at >= end ? 'unexpected end of JSON' : 'unexpected byte'}, expected ${what}`,
      at,
    );
  }
}

/** The top-level object's fields, `data` as a RawJson when it is large. Throws JsonBytesError. */
function fields(bytes: Uint8Array): Record<string, unknown> | undefined {
  const end = bytes.byteLength;
  let at = skipWhitespace(bytes, 0, end);
  // Not an object: not an envelope either, and rare; decoded the usual way for the usual error.
  if (at < end && bytes[at] !== 0x7b) return undefined;
  expect(bytes, at, end, 0x7b, "'{'");
  const record: Record<string, unknown> = {};
  at = skipWhitespace(bytes, at + 1, end);
  if (bytes[at] === 0x7d) at++;
  else {
    for (;;) {
      expect(bytes, at, end, 0x22, 'a key');
      const keyEnd = scanString(bytes, at + 1, end);
      const key = smallValue(bytes, at, keyEnd) as string;
      at = skipWhitespace(bytes, keyEnd, end);
      expect(bytes, at, end, 0x3a, "':'");
      const from = skipWhitespace(bytes, at + 1, end);
      const to = scanJsonValue(bytes, from, end);
      set(
        record,
        key,
        key === 'data' && to - from >= RAW_JSON_MIN_BYTES
          ? new RawJson(bytes.subarray(from, to), true)
          : smallValue(bytes, from, to),
      );
      at = skipWhitespace(bytes, to, end);
      if (bytes[at] === 0x2c) {
        at = skipWhitespace(bytes, at + 1, end);
        continue;
      }
      expect(bytes, at, end, 0x7d, "',' or '}'");
      at++;
      break;
    }
  }
  at = skipWhitespace(bytes, at, end);
  if (at < end) throw new JsonBytesError('unexpected byte after the JSON value', at);
  return record;
}

/**
 * Decodes and validates the envelope whose JSON text is `bytes` (valid UTF-8, as a rung delivers text):
 * `ERR_INVALID_ENVELOPE` (close code BadEnvelope) on anything else, saying at which byte the JSON broke.
 */
export function decodeJsonEnvelopeBytes(bytes: Uint8Array): Envelope {
  let record: unknown;
  try {
    record = scanning(bytes, 0, bytes.byteLength, () => fields(bytes)) ?? JSON.parse(decodeValidUtf8(bytes));
  } catch (cause) {
    if (cause instanceof SyntaxError) throw invalid(`not JSON (${cause.message})`, cause);
    throw cause;
  }
  return parseEnvelope(record);
}
