/**
 * The lightest WebSocket client that still speaks the real protocol: a plain TCP socket, the RFC 6455
 * handshake, frames pre-encoded once with an all-zero mask (legal: masking XORs with the key, so the payload
 * goes out as it is and costs the client nothing), and a parser that only finds frame boundaries. The `ws`
 * client library masks, validates UTF-8 and builds an event per message: that made the old bench's client the
 * bottleneck, so every server looked alike. The servers under test see ordinary, valid WebSocket traffic.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export const Opcode = { text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** One client frame, masked with the zero key (so the payload bytes are sent unchanged). */
export function clientFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const headerLen = len < 126 ? 6 : len < 65536 ? 8 : 14;
  const out = Buffer.allocUnsafe(headerLen + len);
  out[0] = 0x80 | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(0, 2);
    out.writeUInt32BE(len, 6);
  }
  out.writeUInt32BE(0, headerLen - 4); // the mask key: zero
  payload.copy(out, headerLen);
  return out;
}

/** `count` copies of `frame` back to back: a window of identical requests goes out in one write. */
export function repeatFrame(frame: Buffer, count: number): Buffer {
  const out = Buffer.allocUnsafe(frame.length * count);
  for (let i = 0; i < count; i++) frame.copy(out, i * frame.length);
  return out;
}

/**
 * Called per complete message (a fragmented message is reported once, at its last fragment, with its first
 * fragment's opcode; control frames as they come). `head` is the first bytes of the payload (up to HEAD_BYTES), enough to tell an
 * ack from an error; `payload` is the whole payload when it is at most `captureMax` long, else null: counting
 * needs no copy of large payloads. Both may be views into the chunk: use them before returning.
 */
export type FrameListener = (opcode: number, head: Buffer, payload: Buffer | null, length: number) => void;

export const HEAD_BYTES = 32;

/** Finds frame boundaries in the server's (unmasked) byte stream. */
export class FrameParser {
  readonly #onFrame: FrameListener;
  readonly #captureMax: number;
  #head = Buffer.alloc(0);
  #opcode = 0;
  #length = 0;
  #remaining = 0;
  #capture: Buffer | null = null;
  #captured = 0;
  readonly #headBytes = Buffer.alloc(HEAD_BYTES);
  #headCount = 0;
  #inPayload = false;
  #fin = true;
  /** A fragmented message in progress: its opcode (0: none), first bytes and length so far. */
  #msgOpcode = 0;
  readonly #msgHead = Buffer.alloc(HEAD_BYTES);
  #msgHeadCount = 0;
  #msgLength = 0;

  constructor(onFrame: FrameListener, captureMax = 512) {
    this.#onFrame = onFrame;
    this.#captureMax = captureMax;
  }

  /**
   * A server may send a large message as fragments (ours sends its channel prefix as the first one, so that the
   * payload goes out without a copy): they are one message, counted once.
   */
  #frame(fin: boolean, opcode: number, head: Buffer, payload: Buffer | null, length: number): void {
    if (opcode >= 8 || (fin && opcode !== 0 && this.#msgOpcode === 0)) {
      this.#onFrame(opcode, head, payload, length);
      return;
    }
    if (opcode !== 0) {
      this.#msgOpcode = opcode;
      this.#msgHeadCount = 0;
      this.#msgLength = 0;
    }
    if (this.#msgHeadCount < HEAD_BYTES) {
      this.#msgHeadCount += head.copy(this.#msgHead, this.#msgHeadCount, 0, HEAD_BYTES - this.#msgHeadCount);
    }
    this.#msgLength += length;
    if (!fin) return;
    const first = this.#msgOpcode;
    this.#msgOpcode = 0;
    this.#onFrame(first, this.#msgHead.subarray(0, this.#msgHeadCount), null, this.#msgLength);
  }

  push(chunk: Buffer): void {
    let data = chunk;
    if (this.#head.length > 0) {
      data = Buffer.concat([this.#head, chunk]);
      this.#head = Buffer.alloc(0);
    }
    let i = 0;
    const n = data.length;
    while (i < n) {
      if (this.#inPayload) {
        const take = Math.min(this.#remaining, n - i);
        if (this.#capture) data.copy(this.#capture, this.#captured, i, i + take);
        if (this.#headCount < HEAD_BYTES) {
          this.#headCount += data.copy(this.#headBytes, this.#headCount, i, i + Math.min(take, HEAD_BYTES));
        }
        this.#captured += take;
        this.#remaining -= take;
        i += take;
        if (this.#remaining === 0) {
          this.#inPayload = false;
          this.#frame(
            this.#fin,
            this.#opcode,
            this.#headBytes.subarray(0, Math.min(this.#headCount, this.#length)),
            this.#capture,
            this.#length,
          );
          this.#capture = null;
        }
        continue;
      }
      if (n - i < 2) break;
      const b1 = data[i + 1]! & 0x7f;
      let headerLen = 2;
      let length = b1;
      if (b1 === 126) {
        headerLen = 4;
        if (n - i < 4) break;
        length = data.readUInt16BE(i + 2);
      } else if (b1 === 127) {
        headerLen = 10;
        if (n - i < 10) break;
        length = data.readUInt32BE(i + 2) * 2 ** 32 + data.readUInt32BE(i + 6);
      }
      const opcode = data[i]! & 0x0f;
      const fin = (data[i]! & 0x80) !== 0;
      const start = i + headerLen;
      if (n - start >= length) {
        this.#frame(
          fin,
          opcode,
          data.subarray(start, start + Math.min(length, HEAD_BYTES)),
          length <= this.#captureMax ? data.subarray(start, start + length) : null,
          length,
        );
        i = start + length;
        continue;
      }
      this.#opcode = opcode;
      this.#fin = fin;
      this.#length = length;
      this.#remaining = length - (n - start);
      this.#capture = length <= this.#captureMax ? Buffer.allocUnsafe(length) : null;
      this.#captured = n - start;
      if (this.#capture) data.copy(this.#capture, 0, start, n);
      this.#headCount = data.copy(this.#headBytes, 0, start, Math.min(n, start + HEAD_BYTES));
      this.#inPayload = true;
      i = n;
    }
    if (i < n) this.#head = Buffer.from(data.subarray(i));
  }
}

export interface Handshake {
  readonly socket: Socket;
  /** Bytes that arrived after the 101 response (the server may speak first). */
  readonly rest: Buffer;
}

/** Opens a TCP connection and performs the WebSocket upgrade. Rejects on anything but 101. */
export function wsHandshake(host: string, port: number, path: string, protocol?: string): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    let buffered = Buffer.alloc(0);
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
          (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') +
          '\r\n',
      );
    });
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.off('error', fail);
      const head = buffered.subarray(0, end).toString('latin1');
      if (!head.startsWith('HTTP/1.1 101')) {
        fail(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
        return;
      }
      resolve({ socket, rest: buffered.subarray(end + 4) });
    };
    socket.on('data', onData);
  });
}
