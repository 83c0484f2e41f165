/**
 * Strict Server-Sent Events encoding, and the payload encoding that lets any text or bytes cross SSE exactly.
 *
 * SSE parsers split lines on `\r\n`, `\r` and `\n` alike and may strip one leading space, so a payload with
 * line breaks cannot be put in a `data:` line as-is without being altered. Text therefore travels as a JSON
 * string literal (one line, every control character escaped) and bytes as base64. `event` and `id` fields
 * are refused outright if they contain a line break or NUL: that would let a payload inject events.
 */
import { CloseCode } from '../../src/close-codes.ts';
import { SwitchyardError } from '../../src/errors.ts';
import type { Payload } from '../../src/transport.ts';

export interface SseEvent {
  readonly event?: string;
  readonly id?: string;
  /** One line only (callers encode payloads first); multi-line data is split into several `data:` lines. */
  readonly data: string;
  readonly retry?: number;
}

const FORBIDDEN_IN_FIELD = /[\r\n\0]/;

export function encodeSseEvent(message: SseEvent): string {
  let out = '';
  if (message.event !== undefined) {
    if (FORBIDDEN_IN_FIELD.test(message.event)) throw fieldError('event');
    out += `event: ${message.event}\n`;
  }
  if (message.id !== undefined) {
    if (FORBIDDEN_IN_FIELD.test(message.id)) throw fieldError('id');
    out += `id: ${message.id}\n`;
  }
  if (message.retry !== undefined) {
    if (!Number.isSafeInteger(message.retry) || message.retry < 0) {
      throw new SwitchyardError('ERR_INVALID_FRAME', 'SSE retry must be a non-negative integer');
    }
    out += `retry: ${message.retry}\n`;
  }
  for (const line of message.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return `${out}\n`;
}

/** A comment line: keeps proxies from timing the stream out and flushes buffers; ignored by parsers. */
export function encodeSseComment(text: string): string {
  if (FORBIDDEN_IN_FIELD.test(text)) throw fieldError('comment');
  return `: ${text}\n\n`;
}

function fieldError(field: string): SwitchyardError {
  return new SwitchyardError('ERR_INVALID_FRAME', `SSE ${field} must not contain \\r, \\n or NUL`);
}

/** SSE event names of the rung's wire format (docs/transports/sse.md). */
export const SseEventName = {
  session: 'session',
  text: 't',
  binary: 'b',
  close: 'close',
} as const;

/** `data:` value of a message event: `<channel>:<JSON string>` for text, `<channel>:<base64>` for bytes. */
export function encodePayloadData(channel: string, data: Payload): { event: string; data: string } {
  if (typeof data === 'string')
    return { event: SseEventName.text, data: `${channel}:${JSON.stringify(data)}` };
  return { event: SseEventName.binary, data: `${channel}:${bytesToBase64(data)}` };
}

export function decodePayloadData(event: string, value: string): { channel: string; data: Payload } {
  const colon = value.indexOf(':');
  if (colon < 0 || colon > 64) throw invalid('SSE message data has no channel prefix');
  const channel = value.slice(0, colon);
  const body = value.slice(colon + 1);
  if (event === SseEventName.text) {
    let text: unknown;
    try {
      text = JSON.parse(body);
    } catch (cause) {
      throw invalid(`SSE text payload is not a JSON string literal (${(cause as Error).message})`);
    }
    if (typeof text !== 'string') throw invalid('SSE text payload is not a JSON string literal');
    return { channel, data: text };
  }
  if (event === SseEventName.binary) return { channel, data: base64ToBytes(body) };
  throw invalid(`unknown SSE event ${JSON.stringify(event)}`);
}

function invalid(message: string): SwitchyardError {
  return new SwitchyardError('ERR_INVALID_FRAME', message, { closeCode: CloseCode.ProtocolError });
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_LOOKUP[B64.charCodeAt(i)] = i;

/** base64 without `btoa`'s binary-string detour (works the same in browsers, Node and Deno). */
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

export function base64ToBytes(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw invalid('base64 length is not a multiple of 4');
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
  if (value < 0) throw invalid(`invalid base64 character at ${index}`);
  return value;
}
