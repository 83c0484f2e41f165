/**
 * Channel framing for the rungs that multiplex every channel over one ordered connection
 * (WebSocket, and SSE+POST). WebTransport does not need it: there each channel is its own stream.
 *
 *   text frame:   <channel> ":" <text>               (the default channel costs one byte: ":")
 *   binary frame: <u8 channel length> <channel ASCII> <bytes>
 *
 * Channel names match CHANNEL_PATTERN, so they never contain ":" and fit in one length byte.
 */
import { CloseCode } from './close-codes.ts';
import { SwitchyardError } from './errors.ts';
import { CHANNEL_PATTERN, DEFAULT_CHANNEL } from './transport.ts';

export function assertChannel(channel: string): void {
  if (!CHANNEL_PATTERN.test(channel)) {
    throw new SwitchyardError(
      'ERR_INVALID_CHANNEL',
      `channel must match ${CHANNEL_PATTERN} (got ${JSON.stringify(channel.slice(0, 80))})`,
    );
  }
}

export function encodeTextFrame(channel: string, text: string): string {
  return channel === DEFAULT_CHANNEL ? `:${text}` : `${channel}:${text}`;
}

export function decodeTextFrame(frame: string): { channel: string; data: string } {
  const colon = frame.indexOf(':');
  if (colon < 0 || colon > 64) throw invalidFrame('text frame has no channel prefix');
  return {
    channel: colon ? frameChannel(frame.slice(0, colon)) : DEFAULT_CHANNEL,
    data: frame.slice(colon + 1),
  };
}

function frameChannel(name: string): string {
  if (!CHANNEL_PATTERN.test(name)) throw invalidFrame(`invalid channel name in a frame`);
  return name;
}

/**
 * Small frames are carved out of a shared slab, bump-pointer style, never reusing a byte that was handed out
 * (a slab is freed by GC once no frame views it). A fresh ArrayBuffer per small message cost more than the
 * rest of the send path together (bench/run.ts profile); Node's Buffer pool does the same, but src/ must run
 * in browsers too.
 */
const SLAB_BYTES = 64 * 1024;
const SLAB_MAX_FRAME = 4096;
let slab = new Uint8Array(SLAB_BYTES);
let slabOffset = 0;

function allocFrame(size: number): Uint8Array {
  if (size > SLAB_MAX_FRAME) return new Uint8Array(size);
  if (slabOffset + size > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES);
    slabOffset = 0;
  }
  const out = slab.subarray(slabOffset, slabOffset + size);
  slabOffset += (size + 7) & ~7;
  return out;
}

export function encodeBinaryFrame(channel: string, bytes: Uint8Array): Uint8Array {
  const out = allocFrame(1 + channel.length + bytes.byteLength);
  out[0] = channel.length;
  for (let i = 0; i < channel.length; i++) out[1 + i] = channel.charCodeAt(i);
  out.set(bytes, 1 + channel.length);
  return out;
}

/** The returned `data` is a view into `frame` (no copy). */
export function decodeBinaryFrame(frame: Uint8Array): { channel: string; data: Uint8Array } {
  const length = frame[0];
  if (length === undefined || length > 64 || frame.byteLength < 1 + length) {
    throw invalidFrame('binary frame: bad channel length');
  }
  let channel = '';
  for (let i = 1; i <= length; i++) channel += String.fromCharCode(frame[i]!);
  return { channel: length ? frameChannel(channel) : DEFAULT_CHANNEL, data: frame.subarray(1 + length) };
}

/** A peer broke a rung's framing (ERR_INVALID_FRAME, closed with ProtocolError). */
export function invalidFrame(message: string): SwitchyardError {
  return new SwitchyardError('ERR_INVALID_FRAME', message, { closeCode: CloseCode.ProtocolError });
}
