/**
 * Strict Server-Sent Events encoding, and the payload encoding that lets any text or bytes cross SSE exactly.
 *
 * SSE parsers split lines on `\r\n`, `\r` and `\n` alike and may strip one leading space, so a payload with
 * line breaks cannot be put in a `data:` line as-is without being altered. Text therefore travels as a JSON
 * string literal (one line, every control character escaped) and bytes as base64. `event` and `id` fields
 * are refused outright if they contain a line break or NUL: that would let a payload inject events.
 */

import { base64ToBytes, bytesToBase64 } from '../../src/base64.ts';
import { SwitchyardError } from '../../src/errors.ts';
import { invalidFrame as invalid } from '../../src/frame.ts';
import type { Payload, TransportCapabilities } from '../../src/transport.ts';
import { utf8Length } from '../../src/utf8.ts';

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

/** What the rung can do, the same on both sides: bytes are re-encoded as base64, and upstream is HTTP POST. */
export const SSE_CAPABILITIES: TransportCapabilities = {
  datagrams: false,
  independentStreams: false,
  binary: false,
  upstream: 'post',
};

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

const NON_ASCII = /[\u0080-\uffff]/;

/**
 * A whole message event (`t`/`b`, id, data) and its UTF-8 size, in one pass: `channel` is a checked channel
 * name and `id` is made of base64url and digits, and JSON and base64 never contain a line break, so none of
 * `encodeSseEvent`'s checks and splitting apply. Only text can be non-ASCII (JSON.stringify keeps those
 * characters as they are), and only then is its size counted character by character.
 */
export function encodeMessageEvent(
  channel: string,
  data: Payload,
  id: string,
): { readonly text: string; readonly bytes: number } {
  if (typeof data === 'string') {
    const json = JSON.stringify(data);
    const text = flat(`event: t\nid: ${id}\ndata: ${channel}:${json}\n\n`);
    return { text, bytes: NON_ASCII.test(json) ? text.length - json.length + utf8Length(json) : text.length };
  }
  const text = flat(`event: b\nid: ${id}\ndata: ${channel}:${bytesToBase64(data)}\n\n`);
  return { text, bytes: text.length };
}

/**
 * A concatenation is a tree of string pieces (V8 cons strings) of several hundred bytes for a 100-byte event,
 * and events stay queued and kept for replay by the thousand per stream: converting to a number makes the
 * engine copy the string into one flat piece first (what a character-by-character scan also did), so a
 * stored event costs about its length. Above a few hundred bytes the tree's overhead is small and the copy
 * would cost more than it saves.
 */
function flat(text: string): string {
  if (text.length < 512) void Number(text);
  return text;
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
    } catch {}
    if (typeof text !== 'string') throw invalid('SSE text payload is not a JSON string');
    return { channel, data: text };
  }
  if (event === SseEventName.binary) return { channel, data: base64ToBytes(body) };
  throw invalid(`unknown SSE event ${JSON.stringify(event)}`);
}
