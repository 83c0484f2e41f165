/**
 * base64 and base64url for every part of switchyard that needs them (SSE binary payloads, certificate hashes,
 * tokens, session ids), in one strict implementation that runs the same in browsers, Node and Deno: no
 * `btoa`/`atob` binary-string detour, and malformed input is an error with a code, never silently skipped.
 */
import { CloseCode } from './close-codes.ts';
import { SwitchyardError } from './errors.ts';

function invalidBase64(message: string): SwitchyardError {
  return new SwitchyardError('ERR_INVALID_FRAME', message, { closeCode: CloseCode.ProtocolError });
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_LOOKUP[B64.charCodeAt(i)] = i;

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

export function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  if (text.length % 4 !== 0) throw invalidBase64('base64 length is not a multiple of 4');
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const a = lookup(text, i);
    const b = lookup(text, i + 1);
    const c = text[i + 2] === '=' && i + 4 === text.length ? 0 : lookup(text, i + 2);
    const d = text[i + 3] === '=' && i + 4 === text.length ? 0 : lookup(text, i + 3);
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >> 16;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

function lookup(text: string, index: number): number {
  const code = text.charCodeAt(index);
  const value = code < 128 ? B64_LOOKUP[code]! : -1;
  if (value < 0) throw invalidBase64(`invalid base64 character at ${index}`);
  return value;
}

/** URL- and filename-safe base64 without padding (RFC 4648 section 5): tokens and ids. */
export function bytesToBase64url(bytes: Uint8Array): string {
  return bytesToBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function base64urlToBytes(text: string): Uint8Array<ArrayBuffer> {
  const standard = text.replace(/-/g, '+').replace(/_/g, '/');
  return base64ToBytes(standard + '='.repeat((4 - (standard.length % 4)) % 4));
}
