/**
 * The control stream of a WebTransport session: the client opens it with HELLO (framing version), the server
 * answers READY, and either side ends the session with CLOSE (code + reason) once its channel streams are
 * finished. Here are the frames and their rules; the connection (connection.ts) acts on them.
 */
import { decodeUtf8Strict, encodeUtf8 } from '../../src/utf8.ts';
import { encodeFrame, type Frame, FrameType, invalid } from './framing.ts';

export const PROTOCOL_VERSION = 1;

/** What a frame on the control stream asks of the connection. */
export type ControlMessage =
  | { readonly type: 'hello' }
  | { readonly type: 'ready' }
  | { readonly type: 'close'; readonly code: number; readonly reason: string };

export function helloFrame(): Uint8Array {
  return encodeFrame(FrameType.hello, encodeUtf8(JSON.stringify({ v: PROTOCOL_VERSION })));
}

export function readyFrame(): Uint8Array {
  return encodeFrame(FrameType.ready, encodeUtf8(JSON.stringify({ v: PROTOCOL_VERSION })));
}

export function closeFrame(code: number, reason: string): Uint8Array {
  const reasonBytes = encodeUtf8(reason);
  const payload = new Uint8Array(2 + reasonBytes.byteLength);
  payload[0] = code >> 8;
  payload[1] = code & 255;
  payload.set(reasonBytes, 2);
  return encodeFrame(FrameType.close, payload);
}

/** Checks one control frame against the rules for `role`; throws the protocol error that ends the session. */
export function readControl(frame: Frame, role: 'client' | 'server'): ControlMessage {
  switch (frame.type) {
    case FrameType.hello: {
      if (role !== 'server') throw invalid('HELLO sent to a client');
      const hello = JSON.parse(decodeUtf8Strict(frame.payload)) as { v?: unknown };
      if (hello.v !== PROTOCOL_VERSION)
        throw invalid(`unsupported WebTransport framing version ${String(hello.v)}`);
      return { type: 'hello' };
    }
    case FrameType.ready:
      if (role !== 'client') throw invalid('READY sent to a server');
      return { type: 'ready' };
    case FrameType.close: {
      if (frame.payload.byteLength < 2) throw invalid('CLOSE frame without a code');
      const code = (frame.payload[0]! << 8) | frame.payload[1]!;
      const reason = decodeUtf8Strict(frame.payload.subarray(2));
      return { type: 'close', code, reason };
    }
    default:
      throw invalid(`unexpected frame type ${frame.type} on the control stream`);
  }
}
