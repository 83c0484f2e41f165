/**
 * The upstream half of SSE+POST: several client messages in one POST body, so that a burst of sends costs
 * one request, not one each. Decoding validates the whole batch before anything is delivered, so a bad
 * frame never leaves half a batch applied.
 *
 *   batch := frame*
 *   frame := kind:u8  channelLength:u8  channel:ASCII[channelLength]  length:u32 (big-endian)  payload[length]
 *   kind  := 0 text (strict UTF-8) | 1 binary | 2 close (payload = code:u16 big-endian + reason UTF-8)
 */
import { CloseCode, isSendableCloseCode } from '../../src/close-codes.ts';
import { SwitchyardError } from '../../src/errors.ts';
import type { Payload } from '../../src/transport.ts';
import { CHANNEL_PATTERN } from '../../src/transport.ts';
import { decodeUtf8Strict, encodeUtf8 } from '../../src/utf8.ts';

export const FrameKind = { text: 0, binary: 1, close: 2 } as const;

export type BatchFrame =
  | { readonly kind: 'message'; readonly channel: string; readonly data: Payload }
  | { readonly kind: 'close'; readonly code: number; readonly reason: string };

const HEADER = 6;

/** Size of one encoded message frame, for batching decisions (text must already be UTF-8 bytes). */
export function frameSize(channel: string, payloadBytes: number): number {
  return HEADER + channel.length + payloadBytes;
}

export function encodeBatch(frames: readonly BatchFrame[]): Uint8Array {
  const parts: { kind: number; channel: string; bytes: Uint8Array }[] = [];
  let total = 0;
  for (const frame of frames) {
    let kind: number;
    let channel = '';
    let bytes: Uint8Array;
    if (frame.kind === 'close') {
      kind = FrameKind.close;
      const reason = encodeUtf8(frame.reason);
      bytes = new Uint8Array(2 + reason.byteLength);
      bytes[0] = frame.code >> 8;
      bytes[1] = frame.code & 255;
      bytes.set(reason, 2);
    } else {
      channel = frame.channel;
      if (typeof frame.data === 'string') {
        kind = FrameKind.text;
        bytes = encodeUtf8(frame.data);
      } else {
        kind = FrameKind.binary;
        bytes = frame.data;
      }
    }
    parts.push({ kind, channel, bytes });
    total += frameSize(channel, bytes.byteLength);
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const part of parts) {
    out[offset] = part.kind;
    out[offset + 1] = part.channel.length;
    for (let i = 0; i < part.channel.length; i++) out[offset + 2 + i] = part.channel.charCodeAt(i);
    offset += 2 + part.channel.length;
    view.setUint32(offset, part.bytes.byteLength);
    offset += 4;
    out.set(part.bytes, offset);
    offset += part.bytes.byteLength;
  }
  return out;
}

/**
 * Decodes and validates a whole batch. Throws SwitchyardError: ERR_INVALID_FRAME (close 1002),
 * ERR_INVALID_UTF8 (1007) or ERR_MESSAGE_TOO_BIG (1009).
 */
export function decodeBatch(body: Uint8Array, maxMessageBytes: number): BatchFrame[] {
  const frames: BatchFrame[] = [];
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let offset = 0;
  while (offset < body.byteLength) {
    if (body.byteLength - offset < 2) throw malformed('truncated frame header');
    const kind = body[offset]!;
    const channelLength = body[offset + 1]!;
    if (channelLength > 64) throw malformed('channel name longer than 64');
    if (body.byteLength - offset < HEADER + channelLength) throw malformed('truncated frame header');
    let channel = '';
    for (let i = 0; i < channelLength; i++) channel += String.fromCharCode(body[offset + 2 + i]!);
    if (!CHANNEL_PATTERN.test(channel)) throw malformed('invalid channel name');
    const length = view.getUint32(offset + 2 + channelLength);
    offset += HEADER + channelLength;
    if (kind !== FrameKind.close && length > maxMessageBytes) {
      throw new SwitchyardError(
        'ERR_MESSAGE_TOO_BIG',
        `message of ${length} bytes exceeds ${maxMessageBytes}`,
        {
          closeCode: CloseCode.MessageTooBig,
        },
      );
    }
    if (body.byteLength - offset < length) throw malformed('frame length runs past the end of the body');
    const payload = body.subarray(offset, offset + length);
    offset += length;
    if (kind === FrameKind.text) frames.push({ kind: 'message', channel, data: decodeUtf8Strict(payload) });
    else if (kind === FrameKind.binary) frames.push({ kind: 'message', channel, data: payload });
    else if (kind === FrameKind.close) {
      if (length < 2 || length > 125) throw malformed('close frame payload must be 2 to 125 bytes');
      const code = (payload[0]! << 8) | payload[1]!;
      if (!isSendableCloseCode(code)) throw malformed(`close code ${code} may not be sent`);
      frames.push({ kind: 'close', code, reason: decodeUtf8Strict(payload.subarray(2)) });
    } else throw malformed(`unknown frame kind ${kind}`);
  }
  return frames;
}

function malformed(message: string): SwitchyardError {
  return new SwitchyardError('ERR_INVALID_FRAME', `SSE upstream batch: ${message}`, {
    closeCode: CloseCode.ProtocolError,
  });
}
