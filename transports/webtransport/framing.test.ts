import { describe, expect, it } from 'vitest';
import {
  decodeChannelName,
  decodeDatagram,
  encodeDatagram,
  encodeFrame,
  FrameReader,
  FrameType,
} from './framing.ts';

const enc = (s: string) => new TextEncoder().encode(s);

describe('WebTransport stream framing on bytes', () => {
  it('lays out type, u32 big-endian length, payload', () => {
    expect([...encodeFrame(FrameType.text, enc('hi'))]).toEqual([1, 0, 0, 0, 2, 104, 105]);
    expect([...encodeFrame(FrameType.open, new Uint8Array(0))]).toEqual([0, 0, 0, 0, 0]);
  });

  it('frames a payload given as pieces exactly as the same bytes given whole', () => {
    const pieces = [enc('h\u00e9'), new Uint8Array(0), enc('llo \u2603')];
    const whole = enc('h\u00e9llo \u2603');
    expect([...encodeFrame(FrameType.text, pieces)]).toEqual([...encodeFrame(FrameType.text, whole)]);
    expect([...encodeFrame(FrameType.text, [])]).toEqual([1, 0, 0, 0, 0]);
    const reader = new FrameReader(100);
    const [frame] = reader.push(encodeFrame(FrameType.text, pieces));
    expect(new TextDecoder().decode(frame!.payload)).toBe('h\u00e9llo \u2603');
  });

  it('reassembles a frame split over many one-byte chunks', () => {
    const frame = encodeFrame(
      FrameType.binary,
      Uint8Array.from({ length: 300 }, (_, i) => i & 255),
    );
    const reader = new FrameReader(1000);
    const out = [];
    for (const byte of frame) out.push(...reader.push(Uint8Array.of(byte)));
    expect(out).toHaveLength(1);
    expect(out[0]!.type).toBe(FrameType.binary);
    expect([...out[0]!.payload]).toEqual(Array.from({ length: 300 }, (_, i) => i & 255));
    expect(reader.pending).toBe(0);
  });

  it('splits many frames out of one chunk, and keeps a trailing partial frame for later', () => {
    const a = encodeFrame(FrameType.text, enc('one'));
    const b = encodeFrame(FrameType.text, enc('two'));
    const c = encodeFrame(FrameType.text, enc('three'));
    const chunk = new Uint8Array([...a, ...b, ...c.subarray(0, 4)]);
    const reader = new FrameReader(100);
    expect(reader.push(chunk).map((f) => new TextDecoder().decode(f.payload))).toEqual(['one', 'two']);
    expect(reader.pending).toBe(4);
    expect(reader.push(c.subarray(4)).map((f) => new TextDecoder().decode(f.payload))).toEqual(['three']);
  });

  it('refuses a frame over the limit from its header alone (1009), before buffering it', () => {
    const reader = new FrameReader(10);
    expect(() => reader.push(Uint8Array.of(2, 0, 0, 0, 11))).toThrowError(
      expect.objectContaining({ code: 'ERR_MESSAGE_TOO_BIG', closeCode: 1009 }),
    );
  });

  it('validates channel names in OPEN frames', () => {
    expect(decodeChannelName(enc('chat'))).toBe('chat');
    expect(decodeChannelName(new Uint8Array(0))).toBe('');
    expect(() => decodeChannelName(enc('no spaces'))).toThrowError(
      expect.objectContaining({ code: 'ERR_INVALID_FRAME' }),
    );
  });
});

describe('WebTransport datagrams on bytes', () => {
  it('carries type, channel and payload', () => {
    const d = encodeDatagram(FrameType.text, 'ab', enc('x'));
    expect([...d]).toEqual([1, 2, 97, 98, 120]);
    const decoded = decodeDatagram(d);
    expect(decoded.channel).toBe('ab');
    expect(decoded.type).toBe(FrameType.text);
    expect([...decoded.payload]).toEqual([120]);
  });

  it.each([[[]], [[1]], [[9, 0]], [[1, 5, 97]], [[2, 1, 32]]])('refuses malformed datagram %j', (raw) => {
    expect(() => decodeDatagram(Uint8Array.from(raw))).toThrowError(
      expect.objectContaining({ code: 'ERR_INVALID_FRAME' }),
    );
  });
});
