/**
 * Framing on WebTransport streams and datagrams. A QUIC stream is a byte stream: reads return whatever
 * chunks arrived, so every message is length-prefixed and a reader reassembles frames across chunks (and
 * splits several frames out of one chunk). Wire format: docs/transports/webtransport.md.
 *
 *   stream frame := type:u8  length:u32 (big-endian)  payload[length]
 *   datagram     := type:u8 (TEXT | BINARY)  channelLength:u8  channel:ASCII  payload
 */
import { CloseCode } from '../../src/close-codes.ts';
import { SwitchyardError } from '../../src/errors.ts';
import { CHANNEL_PATTERN } from '../../src/transport.ts';

export const FrameType = {
  /** First frame of a channel stream: payload = channel name. */
  open: 0x00,
  text: 0x01,
  binary: 0x02,
  /** Control stream, client -> server: payload = JSON { v }. */
  hello: 0x10,
  /** Control stream, server -> client: payload = JSON { v }. The session is usable from here on. */
  ready: 0x11,
  /** Control stream, either way: payload = code:u16 + reason UTF-8. Sent after every channel stream was finished. */
  close: 0x12,
} as const;

export interface Frame {
  readonly type: number;
  readonly payload: Uint8Array;
}

const HEADER = 5;

const isPieces = (payload: Uint8Array | readonly Uint8Array[]): payload is readonly Uint8Array[] =>
  Array.isArray(payload);

/**
 * One frame, its payload given whole or as pieces (a server's Utf8Text: the pieces are copied once, here, not
 * joined first and then copied again behind the header).
 */
export function encodeFrame(type: number, payload: Uint8Array | readonly Uint8Array[]): Uint8Array {
  const parts: readonly Uint8Array[] = isPieces(payload) ? payload : [payload];
  let length = 0;
  for (const part of parts) length += part.byteLength;
  const out = new Uint8Array(HEADER + length);
  out[0] = type;
  new DataView(out.buffer).setUint32(1, length);
  let at = HEADER;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/** Reassembles frames from stream chunks; refuses a frame over `maxPayload` before buffering it. */
export class FrameReader {
  readonly #maxPayload: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;

  constructor(maxPayload: number) {
    this.#maxPayload = maxPayload;
  }

  /** Feeds one chunk; returns the frames it completed, in order. */
  push(chunk: Uint8Array): Frame[] {
    if (chunk.byteLength > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.byteLength;
    }
    const frames: Frame[] = [];
    for (;;) {
      if (this.#buffered < HEADER) return frames;
      const header = this.#peek(HEADER);
      const length = new DataView(header.buffer, header.byteOffset, HEADER).getUint32(1);
      if (length > this.#maxPayload) {
        throw new SwitchyardError(
          'ERR_MESSAGE_TOO_BIG',
          `frame of ${length} bytes exceeds ${this.#maxPayload}`,
          {
            closeCode: CloseCode.MessageTooBig,
          },
        );
      }
      if (this.#buffered < HEADER + length) return frames;
      const whole = this.#take(HEADER + length);
      frames.push({ type: whole[0]!, payload: whole.subarray(HEADER) });
    }
  }

  /** Bytes of an unfinished frame (non-zero when a stream ends mid-frame). */
  get pending(): number {
    return this.#buffered;
  }

  #peek(n: number): Uint8Array {
    const first = this.#chunks[0]!;
    if (first.byteLength >= n) return first;
    return this.#merge().subarray(0, n);
  }

  #take(n: number): Uint8Array {
    let first = this.#chunks[0]!;
    if (first.byteLength < n) first = this.#merge();
    const out = first.subarray(0, n);
    if (first.byteLength === n) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.#buffered -= n;
    return out;
  }

  #merge(): Uint8Array {
    const merged = new Uint8Array(this.#buffered);
    let offset = 0;
    for (const chunk of this.#chunks) {
      merged.set(chunk, offset);
      offset += chunk.byteLength;
    }
    this.#chunks = [merged];
    return merged;
  }
}

export function encodeDatagram(type: number, channel: string, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + channel.length + payload.byteLength);
  out[0] = type;
  out[1] = channel.length;
  for (let i = 0; i < channel.length; i++) out[2 + i] = channel.charCodeAt(i);
  out.set(payload, 2 + channel.length);
  return out;
}

/** Overhead a datagram adds to its payload (for the size check before sending). */
export function datagramOverhead(channel: string): number {
  return 2 + channel.length;
}

export function decodeDatagram(datagram: Uint8Array): { type: number; channel: string; payload: Uint8Array } {
  if (datagram.byteLength < 2) throw invalid('datagram shorter than its header');
  const type = datagram[0]!;
  const length = datagram[1]!;
  if ((type !== FrameType.text && type !== FrameType.binary) || datagram.byteLength < 2 + length) {
    throw invalid('malformed datagram header');
  }
  let channel = '';
  for (let i = 0; i < length; i++) channel += String.fromCharCode(datagram[2 + i]!);
  if (!CHANNEL_PATTERN.test(channel)) throw invalid('datagram channel name is invalid');
  return { type, channel, payload: datagram.subarray(2 + length) };
}

export function decodeChannelName(payload: Uint8Array): string {
  let channel = '';
  for (const byte of payload) channel += String.fromCharCode(byte);
  if (payload.byteLength > 64 || !CHANNEL_PATTERN.test(channel))
    throw invalid('stream OPEN frame names an invalid channel');
  return channel;
}

export function invalid(message: string): SwitchyardError {
  return new SwitchyardError('ERR_INVALID_FRAME', message, { closeCode: CloseCode.ProtocolError });
}
