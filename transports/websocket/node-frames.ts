/**
 * The Node WebSocket binding's framing of the channel protocol (src/frame.ts) into Buffers: the caches that let a
 * fan-out encode one message once for every socket, and the head of a large frame that the binding writes
 * straight to the socket so that a large payload is never copied behind its channel prefix.
 */
import { DEFAULT_CHANNEL } from '../../src/transport.ts';

/** 0x3a, the ":" between the channel and the text of a text frame (src/frame.ts). */
const COLON = 58;

// --- Fan-out cache -------------------------------------------------------------------------------------------
//
// A fan-out hands the same payload string to N connections in a row. Sending it as a string makes every
// connection frame the channel (a new string) and UTF-8-encode the message again. So the framed UTF-8 bytes of
// the last (channel, text) pair are kept, and from the second send of the same pair on, the same Buffer goes to
// every socket (`ws` sends a Buffer with `binary: false` as a text frame without touching it). Strings are
// immutable and compared by value, so a hit is always the right frame; the first send of a pair stays a plain
// string send (an echo never pays for the Buffer). The cache holds one entry and is emptied on the next tick, so
// a big message is not kept alive past the burst that sends it.

let lastChannel = '';
let lastText: string | undefined;
let lastFrame: Buffer | undefined;
let clearScheduled = false;

function clearFrameCache(): void {
  clearScheduled = false;
  lastText = undefined;
  lastFrame = undefined;
}

/** The frame to send for (channel, text): a Buffer when it is worth reusing, else the framed string. */
export function textFrame(channel: string, text: string): Buffer | string {
  if (text === lastText && channel === lastChannel) {
    // biome-ignore lint/suspicious/noAssignInExpressions: build once, on the second send of the same pair
    return (lastFrame ??= encodeTextFrameBuffer(channel, text));
  }
  lastChannel = channel;
  lastText = text;
  lastFrame = undefined;
  if (!clearScheduled) {
    clearScheduled = true;
    process.nextTick(clearFrameCache);
  }
  return channel === DEFAULT_CHANNEL ? `:${text}` : `${channel}:${text}`;
}

/** `<channel>:<text>` as UTF-8 in one Buffer, written in one pass (no intermediate string). */
export function encodeTextFrameBuffer(channel: string, text: string): Buffer {
  const prefix = channel === DEFAULT_CHANNEL ? 0 : channel.length;
  const out = Buffer.allocUnsafe(prefix + 1 + Buffer.byteLength(text, 'utf8'));
  // Channel names are ASCII (CHANNEL_PATTERN).
  if (prefix) out.write(channel, 0, 'latin1');
  out[prefix] = COLON;
  out.write(text, prefix + 1, 'utf8');
  return out;
}

/**
 * `<u8 channel length><channel><bytes>` in one Buffer: no zero fill (every byte is written) and one copy of the
 * payload (src/frame.ts's `encodeBinaryFrame` must run in browsers and allocates a zeroed Uint8Array above 4 KiB).
 */
export function encodeBinaryFrameBuffer(channel: string, bytes: Uint8Array): Buffer {
  const prefix = channel === DEFAULT_CHANNEL ? 0 : channel.length;
  const out = Buffer.allocUnsafe(1 + prefix + bytes.byteLength);
  out[0] = prefix;
  if (prefix) out.write(channel, 1, 'latin1');
  out.set(bytes, 1 + prefix);
  return out;
}

export const TEXT = { binary: false } as const;
export const BINARY = { binary: true } as const;

// --- Large messages ------------------------------------------------------------------------------------------
//
// Framing the channel in front of a large payload costs a copy of every byte (and, for a Buffer above Node's
// pool size, a fresh allocation whose backing store the GC must track): at 64 KiB that was a third of the rung's
// CPU against raw `ws`. From LARGE_MESSAGE_BYTES on, the payload is not copied: the channel prefix is written in
// the same small buffer as the frame's header, and the payload after it as it is, one WebSocket frame in two
// buffers of the socket's corked `writev`, as `ws` itself sends any message. That passes `ws`'s Sender, so it is
// done only when the Sender would write at once itself (ws-internals.ts, `directSocketOf`);
// otherwise, and with a `ws` whose internals differ, the prefix goes out as the first fragment of the message and
// the payload as its last (RFC 6455 5.4; every client reassembles fragments). One frame instead of two fragments
// spares `ws`'s per-frame work twice over and a header on the wire (docs/benchmarks.md, tenth round). Either way
// an app that sends a Uint8Array must not change it afterwards, as with `ws` or `socket.write` (src/transport.ts,
// `ServerConnection.send`).

/** From this size on, a payload is written as it is behind its prefix's head instead of being copied behind it. */
export const LARGE_MESSAGE_BYTES = 16 * 1024;
export const TEXT_FIRST = { binary: false, fin: false } as const;
export const BINARY_FIRST = { binary: true, fin: false } as const;
export const TEXT_LAST = { binary: false, fin: true } as const;
export const BINARY_LAST = { binary: true, fin: true } as const;
const DEFAULT_BINARY_PREFIX = Buffer.from([0]);

/** The first fragment of a large text message: its channel prefix. */
export function textPrefix(channel: string): string {
  return channel === DEFAULT_CHANNEL ? ':' : `${channel}:`;
}

export function binaryPrefix(channel: string): Buffer {
  if (channel === DEFAULT_CHANNEL) return DEFAULT_BINARY_PREFIX;
  const out = Buffer.allocUnsafe(1 + channel.length);
  out[0] = channel.length;
  out.write(channel, 1, 'latin1');
  return out;
}

/** The UTF-8 bytes of the last large text sent: a fan-out encodes a large message once, not per socket. */
let lastLargeText: string | undefined;
let lastLargeBytes: Buffer | undefined;

function clearLargeText(): void {
  lastLargeText = undefined;
  lastLargeBytes = undefined;
}

/** The body to send for a large text: the string itself the first time, its cached bytes from the second on. */
export function largeTextBody(text: string): string | Buffer {
  if (text === lastLargeText) {
    // biome-ignore lint/suspicious/noAssignInExpressions: encode once, on the second send of the same text
    return (lastLargeBytes ??= Buffer.from(text, 'utf8'));
  }
  if (lastLargeText === undefined) process.nextTick(clearLargeText);
  lastLargeText = text;
  lastLargeBytes = undefined;
  return text;
}

const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;
const FIN = 0x80;

/**
 * The head of one unmasked, final frame whose payload is the channel prefix and then `bodyBytes` more: the
 * frame's header (RFC 6455 5.2) and the prefix, in one buffer. A text prefix is `<channel>:` (src/frame.ts's
 * `encodeTextFrame`), a binary one `<u8 channel length><channel>` (`encodeBinaryFrame`); channel names are ASCII.
 */
export function largeFrameHead(binary: boolean, channel: string, bodyBytes: number): Buffer {
  const name = channel === DEFAULT_CHANNEL ? 0 : channel.length;
  const payload = name + 1 + bodyBytes;
  const extended = payload < 126 ? 0 : payload < 0x10000 ? 2 : 8;
  const head = Buffer.allocUnsafe(2 + extended + name + 1);
  head[0] = FIN | (binary ? OPCODE_BINARY : OPCODE_TEXT);
  if (extended === 0) head[1] = payload;
  else if (extended === 2) {
    head[1] = 126;
    head.writeUInt16BE(payload, 2);
  } else {
    head[1] = 127;
    head.writeUInt32BE(Math.floor(payload / 0x1_0000_0000), 2);
    head.writeUInt32BE(payload >>> 0, 6);
  }
  let at = 2 + extended;
  if (binary) head[at++] = name;
  if (name) at += head.write(channel, at, 'latin1');
  if (!binary) head[at] = COLON;
  return head;
}
