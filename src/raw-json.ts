/**
 * A JSON value kept as the validated UTF-8 bytes it arrived as. The server carries a large `data` of a JSON
 * `pub` this way (src/codec.ts `decodeUtf8`), to the hub, into history and into the `msg` it delivers, without
 * ever making it a string or a value: both cost more than the whole echo of raw `ws` at 64 KiB and up
 * (docs/protocol.md, "Large JSON messages"). Whoever needs the value pays for it, once, with `value()`.
 */
import { validateJson } from './json-bytes.ts';
import { decodeValidUtf8 } from './utf8.ts';

export class RawJson {
  /** Exactly one JSON value, UTF-8 (whitespace around it allowed). Must not be changed. */
  readonly bytes: Uint8Array;

  /**
   * `bytes` must be valid UTF-8 (as every rung's text is) and are kept, not copied. They are checked to be one
   * JSON value unless `validated` says the caller just did (the envelope decoder scans them anyway).
   */
  constructor(bytes: Uint8Array, validated = false) {
    if (!validated) validateJson(bytes);
    this.bytes = bytes;
  }

  get byteLength(): number {
    return this.bytes.byteLength;
  }

  /** The JSON text (a new string on every call: the point of this class is not to hold one). */
  text(): string {
    return decodeValidUtf8(this.bytes);
  }

  /** The value, as `JSON.parse` of the text gives it (a new one on every call). */
  value(): unknown {
    return JSON.parse(this.text());
  }

  /** A generic `JSON.stringify` of anything holding this writes the value, not this object. */
  toJSON(): unknown {
    return this.value();
  }
}

/** `data` itself, or the value of a RawJson: for whoever must not see the bytes (apps, other codecs). */
export function plainData(data: unknown): unknown {
  return data instanceof RawJson ? data.value() : data;
}
