/**
 * base64 and base64url for every part of switchyard that needs them (SSE binary payloads, certificate hashes,
 * tokens, session ids), the same in browsers, Node and Deno. Decoding is strict: the input is checked against
 * the canonical alphabet and padding first (the platform's `atob` then does the work), so malformed input is
 * an error with a code, never silently skipped.
 */
import { invalidFrame } from './frame.ts';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export function bytesToBase64(bytes: Uint8Array): string {
  let out = '';
  const chunk: string[] = [];
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    chunk.push(B64[n >> 18]!, B64[(n >> 12) & 63]!, B64[(n >> 6) & 63]!, B64[n & 63]!);
    if (chunk.length >= 8192) {
      out += chunk.join('');
      chunk.length = 0;
    }
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    chunk.push(B64[n >> 18]!, B64[(n >> 12) & 63]!, '==');
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    chunk.push(B64[n >> 18]!, B64[(n >> 12) & 63]!, B64[(n >> 6) & 63]!, '=');
  }
  return out + chunk.join('');
}

/** Canonical padded base64: whole groups of four, `=` only as the last one or two characters. */
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict: anything but canonical padded base64 (whitespace, missing padding, stray characters) is refused. */
export function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  if (!STRICT_BASE64.test(text)) throw invalidFrame('malformed base64');
  // Checked above, so the platform decoder's leniency (whitespace, no padding) never applies.
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** URL- and filename-safe base64 without padding (RFC 4648 section 5): tokens and ids. */
export function bytesToBase64url(bytes: Uint8Array): string {
  return bytesToBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function base64urlToBytes(text: string): Uint8Array<ArrayBuffer> {
  const standard = text.replace(/-/g, '+').replace(/_/g, '/');
  return base64ToBytes(standard + '='.repeat((4 - (standard.length % 4)) % 4));
}
