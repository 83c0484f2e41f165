/**
 * Strict UTF-8 in one place: every rung must refuse invalid text the same way (WebSocket closes 1007,
 * SSE POST answers 400) instead of letting a lenient decoder turn it into U+FFFD behind the app's back.
 */

import { CloseCode } from './close-codes.ts';
import { SwitchyardError } from './errors.ts';

// Pure: a bundle that never decodes strictly (browser clients) leaves the decoder out.
const strictDecoder = /* @__PURE__ */ new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = /* @__PURE__ */ new TextEncoder();

export function decodeUtf8Strict(bytes: Uint8Array): string {
  try {
    return strictDecoder.decode(bytes);
  } catch (cause) {
    throw invalidUtf8(cause);
  }
}

/** The error every rung raises for text that is not valid UTF-8 (close code InvalidPayload, 1007). */
export function invalidUtf8(cause?: unknown): SwitchyardError {
  return new SwitchyardError('ERR_INVALID_UTF8', 'text payload is not valid UTF-8', {
    closeCode: CloseCode.InvalidPayload,
    cause,
  });
}

/** Node's Buffer decodes UTF-8 faster than TextDecoder; other runtimes use that. */
const NodeBuffer = (
  globalThis as {
    Buffer?: {
      from(buffer: ArrayBufferLike, offset: number, length: number): { toString(e: 'utf8'): string };
    };
  }
).Buffer;
const decoder = /* @__PURE__ */ new TextDecoder('utf-8', { ignoreBOM: true });

/** Text of bytes already known to be valid UTF-8 (a rung validated them): no check, the fastest decoder. */
export function decodeValidUtf8(bytes: Uint8Array): string {
  return NodeBuffer
    ? NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
    : decoder.decode(bytes);
}

export function encodeUtf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Exact UTF-8 length without allocating (lone surrogates count as U+FFFD, 3 bytes, as the encoder emits). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** Byte length of a payload as it travels (text as UTF-8). */
export function payloadByteLength(data: string | { readonly byteLength: number }): number {
  return typeof data === 'string' ? utf8Length(data) : data.byteLength;
}
