/**
 * The Node binding's frames on the wire: the fan-out's shared frame, binary frames, one frame per large message
 * (and the fragments where `ws`'s internals are not at hand), the head of a large frame, and Buffer framing against
 * src/frame.ts. Asserted on the bytes the server's net socket writes and on what a real `ws` client receives.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { decodeBinaryFrame, decodeTextFrame, encodeBinaryFrame, encodeTextFrame } from '../../src/frame.ts';
import { Utf8Text } from '../../src/utf8-text.ts';
import { captureWrites, listen, text } from '../../test/node-socket-pair.ts';
import {
  encodeBinaryFrameBuffer,
  encodeTextFrameBuffer,
  LARGE_MESSAGE_BYTES,
  largeFrameHead,
} from './node-frames.ts';

/** Off: the binding finds no `ws` internals to write frames with (another `ws` version), as the fallback sees it. */
const internals = vi.hoisted(() => ({ direct: true }));
vi.mock('./ws-internals.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('./ws-internals.ts')>();
  return {
    ...actual,
    directSocketOf: (ws: WebSocket) => (internals.direct ? actual.directSocketOf(ws) : undefined),
  };
});

afterEach(() => {
  internals.direct = true;
});

interface WireFrame {
  readonly fin: boolean;
  readonly opcode: number;
  readonly length: number;
  /** The payload bytes present (all of them unless `partial`). */
  readonly payload: Buffer;
}

/** Unmasked WebSocket frames (RFC 6455 5.2) as a server writes them; `partial` allows a last frame cut short. */
function parseFrames(bytes: Buffer, { partial = false } = {}): WireFrame[] {
  const frames: WireFrame[] = [];
  let at = 0;
  while (at < bytes.length) {
    const fin = (bytes[at]! & 0x80) !== 0;
    const opcode = bytes[at]! & 0x0f;
    expect(bytes[at + 1]! & 0x80).toBe(0);
    let length = bytes[at + 1]! & 0x7f;
    at += 2;
    if (length === 126) {
      length = bytes.readUInt16BE(at);
      at += 2;
    } else if (length === 127) {
      length = Number(bytes.readBigUInt64BE(at));
      at += 8;
    }
    if (!partial) expect(at + length).toBeLessThanOrEqual(bytes.length);
    frames.push({ fin, opcode, length, payload: bytes.subarray(at, at + length) });
    at += length;
  }
  return frames;
}

describe('Node WebSocket binding: frames', () => {
  it('a fan-out of one message reaches every socket whole; other channels and strings never get its frame', async () => {
    const connect = await listen();
    const pairs = [await connect(), await connect(), await connect()];
    const big = 'é€𝄞'.repeat(5000);
    const sequence: [string, string][] = [
      ['x', 'same'],
      ['x', 'same'],
      ['y', 'same'],
      ['x', 'same'],
      ['x', 'other'],
      ['', 'same'],
      ['', big],
      ['', big],
      ['', `${big.slice(0, -2)}!!`],
      ['', big],
    ];
    for (const [channel, data] of sequence) {
      for (const pair of pairs) void pair.server.send(data, { channel });
    }
    await Promise.all(pairs.map((pair) => pair.receivedCount(sequence.length)));
    for (const pair of pairs) {
      expect(pair.received.every(([isBinary]) => !isBinary)).toBe(true);
      expect(text(pair).map((frame) => decodeTextFrame(frame))).toEqual(
        sequence.map(([channel, data]) => ({ channel, data })),
      );
    }
    // Later ticks: the cache was emptied, and a new message with the same text still goes out right.
    await new Promise((resolve) => setImmediate(resolve));
    for (const pair of pairs) void pair.server.send('same', { channel: 'z' });
    await Promise.all(pairs.map((pair) => pair.receivedCount(sequence.length + 1)));
    for (const pair of pairs) expect(text(pair).at(-1)).toBe('z:same');
  });

  it('binary frames carry the channel and the exact bytes; a small buffer may be reused at once', async () => {
    const pair = await (await listen())();
    const bytes = new Uint8Array(LARGE_MESSAGE_BYTES - 1).map((_, i) => i & 0xff);
    void pair.server.send(bytes, { channel: 'bin' });
    bytes[0] = 42;
    void pair.server.send(bytes, { channel: 'bin' });
    void pair.server.send(new Uint8Array([1, 2, 3]));
    await pair.receivedCount(3);
    const frames = pair.received.map(([isBinary, frame]) => {
      expect(isBinary).toBe(true);
      return decodeBinaryFrame(frame);
    });
    expect(frames[0]!.channel).toBe('bin');
    expect(frames[0]!.data[0]).toBe(0);
    expect(frames[1]!.data[0]).toBe(42);
    expect(Buffer.from(frames[1]!.data.subarray(1)).equals(Buffer.from(bytes.subarray(1)))).toBe(true);
    expect(frames[2]!.channel).toBe('');
    expect([...frames[2]!.data]).toEqual([1, 2, 3]);
  });

  it('a large message goes out as one frame: header and channel prefix in one buffer, then the payload', async () => {
    const pair = await (await listen())();
    const wire = captureWrites(pair.serverWs);
    const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
    const text = 'é€𝄞x'.repeat(LARGE_MESSAGE_BYTES / 4);
    const pieces = new Utf8Text([
      Buffer.from('{"doc":"'),
      Buffer.from('ü'.repeat(20_000)),
      Buffer.from('"}'),
    ]);
    void pair.server.send(bytes, { channel: 'bin' });
    void pair.server.send(text);
    void pair.server.send(bytes);
    void pair.server.send(text, { channel: 'doc' });
    void pair.server.send(pieces, { channel: 'json' });
    await pair.receivedCount(5);
    // One burst, one write.
    expect(wire.calls).toBe(1);
    const frames = parseFrames(Buffer.concat(wire.chunks));
    expect(frames.map((f) => [f.fin, f.opcode])).toEqual([
      [true, 2],
      [true, 1],
      [true, 2],
      [true, 1],
      [true, 1],
    ]);
    // The payload is written as the app gave it (not copied behind the prefix): its own chunk on the wire.
    expect(wire.chunks.some((chunk) => chunk.byteLength === bytes.byteLength)).toBe(true);
    const [a, b, c, d, e] = pair.received;
    expect(a![0]).toBe(true);
    expect(decodeBinaryFrame(a![1]).channel).toBe('bin');
    expect(Buffer.from(decodeBinaryFrame(a![1]).data).equals(Buffer.from(bytes))).toBe(true);
    expect(decodeTextFrame(Buffer.from(b![1]).toString())).toEqual({ channel: '', data: text });
    expect(decodeBinaryFrame(c![1]).channel).toBe('');
    expect(Buffer.from(decodeBinaryFrame(c![1]).data).equals(Buffer.from(bytes))).toBe(true);
    expect(decodeTextFrame(Buffer.from(d![1]).toString())).toEqual({ channel: 'doc', data: text });
    expect(decodeTextFrame(Buffer.from(e![1]).toString())).toEqual({ channel: 'json', data: pieces.text() });
  });

  it("without `ws`'s internals a large message goes out as two fragments (prefix, then the payload) and arrives whole", async () => {
    internals.direct = false;
    const pair = await (await listen())();
    const wire = captureWrites(pair.serverWs);
    const bytes = new Uint8Array(100_000).map((_, i) => (i * 5) & 0xff);
    const pieces = new Utf8Text([Buffer.from('é'.repeat(9_000)), Buffer.from('€'.repeat(3_000))]);
    void pair.server.send(bytes, { channel: 'bin' });
    void pair.server.send(pieces, { channel: 'json' });
    await pair.receivedCount(2);
    expect(parseFrames(Buffer.concat(wire.chunks)).map((f) => [f.fin, f.opcode])).toEqual([
      [false, 2],
      [true, 0],
      [false, 1],
      [false, 0],
      [true, 0],
    ]);
    const [a, b] = pair.received;
    expect(decodeBinaryFrame(a![1]).channel).toBe('bin');
    expect(Buffer.from(decodeBinaryFrame(a![1]).data).equals(Buffer.from(bytes))).toBe(true);
    expect(decodeTextFrame(Buffer.from(b![1]).toString())).toEqual({ channel: 'json', data: pieces.text() });
  });

  it('the head of a large frame carries each payload length class and channel exactly', () => {
    for (const [binary, channel, body] of [
      [true, '', 20],
      [false, '', 20],
      [true, 'c', 200],
      [false, 'chat.room-1', 65_535 - 12],
      [true, 'chat.room-1', 65_535 - 12],
      [false, 'x', 70_000],
      [true, 'bulk', 2 ** 33 + 5],
    ] as const) {
      const head = largeFrameHead(binary, channel, body);
      const prefix = binary
        ? Buffer.concat([Buffer.from([channel.length]), Buffer.from(channel)])
        : Buffer.from(`${channel}:`);
      const [frame] = parseFrames(head, { partial: true });
      expect(frame).toMatchObject({ fin: true, opcode: binary ? 2 : 1, length: prefix.length + body });
      expect(frame!.payload.equals(prefix)).toBe(true);
    }
  });

  it('Buffer framing matches src/frame.ts byte for byte', () => {
    for (const channel of ['', 'a', 'chat.room-1']) {
      for (const data of ['', 'plain', 'é€𝄞 mixed', 'x'.repeat(10_000)]) {
        expect(encodeTextFrameBuffer(channel, data).equals(Buffer.from(encodeTextFrame(channel, data)))).toBe(
          true,
        );
      }
      for (const data of [new Uint8Array(0), new Uint8Array([0, 255, 7]), new Uint8Array(9000).fill(3)]) {
        expect(
          encodeBinaryFrameBuffer(channel, data).equals(Buffer.from(encodeBinaryFrame(channel, data))),
        ).toBe(true);
      }
    }
  });
});
