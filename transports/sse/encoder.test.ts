import { describe, expect, it } from 'vitest';
import { base64ToBytes, bytesToBase64 } from '../../src/base64.ts';
import { decodeBatch, encodeBatch } from './batch.ts';
import {
  decodePayloadData,
  encodeMessageEvent,
  encodePayloadData,
  encodeSseComment,
  encodeSseEvent,
} from './encoder.ts';

describe('SSE encoder on bytes', () => {
  it('writes event, id, retry and data lines in order, ending with a blank line', () => {
    expect(encodeSseEvent({ event: 't', id: 'k.1', retry: 500, data: 'hello' })).toBe(
      'event: t\nid: k.1\nretry: 500\ndata: hello\n\n',
    );
  });

  it('splits multi-line data on every line ending', () => {
    expect(encodeSseEvent({ data: 'a\nb\r\nc\rd' })).toBe('data: a\ndata: b\ndata: c\ndata: d\n\n');
    expect(encodeSseEvent({ data: '' })).toBe('data: \n\n');
  });

  it.each(['a\nb', 'a\rb', 'a\r\nb', 'a\u0000b'])('refuses %j in event and id (event injection)', (value) => {
    expect(() => encodeSseEvent({ event: value, data: 'x' })).toThrowError(
      expect.objectContaining({ code: 'ERR_INVALID_FRAME' }),
    );
    expect(() => encodeSseEvent({ id: value, data: 'x' })).toThrowError(
      expect.objectContaining({ code: 'ERR_INVALID_FRAME' }),
    );
    expect(() => encodeSseComment(value)).toThrowError(
      expect.objectContaining({ code: 'ERR_INVALID_FRAME' }),
    );
  });

  it('refuses a negative or fractional retry', () => {
    expect(() => encodeSseEvent({ retry: -1, data: '' })).toThrow();
    expect(() => encodeSseEvent({ retry: 1.5, data: '' })).toThrow();
  });

  it('encodes text payloads as one JSON line, so line breaks and NUL survive parsers that normalise them', () => {
    const text = 'line1\nline2\r\nline3\rend\u0000 ☃ 😀';
    const encoded = encodePayloadData('chat', text);
    expect(encoded.event).toBe('t');
    expect(encoded.data).toBe('chat:"line1\\nline2\\r\\nline3\\rend\\u0000 ☃ 😀"');
    expect(encoded.data).not.toMatch(/[\r\n]/);
    expect(decodePayloadData(encoded.event, encoded.data)).toEqual({ channel: 'chat', data: text });
  });

  it('encodes binary payloads as base64 and decodes them exactly', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const encoded = encodePayloadData('', all);
    expect(encoded.event).toBe('b');
    expect(encoded.data.startsWith(':')).toBe(true);
    expect(decodePayloadData(encoded.event, encoded.data)).toEqual({ channel: '', data: all });
  });

  it('matches the platform base64 for every remainder length', () => {
    for (let n = 0; n < 70; n++) {
      const input = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 255);
      const expected = Buffer.from(input).toString('base64');
      expect(bytesToBase64(input)).toBe(expected);
      expect(base64ToBytes(expected)).toEqual(input);
    }
  });

  it.each([
    ['ASCII', 'hello'],
    ['line breaks, quotes and NUL', 'a\nb\r"c\\\u0000'],
    ['2- and 3-byte characters', 'é€ and ü'],
    ['an emoji (surrogate pair)', 'x😀y'],
    ['lone surrogates (JSON escapes them)', '\ud800a\udc00'],
    ['U+2028 and U+2029 (not SSE line breaks)', 'a\u2028b\u2029c'],
  ])(
    'builds a message event the same as the generic encoder, with its exact UTF-8 size: %s',
    (_name, text) => {
      for (const data of [text, new TextEncoder().encode(text)]) {
        const payload = encodePayloadData('ch', data);
        const event = encodeMessageEvent('ch', data, 'key.7');
        expect(event.text).toBe(encodeSseEvent({ event: payload.event, id: 'key.7', data: payload.data }));
        expect(event.bytes).toBe(new TextEncoder().encode(event.text).byteLength);
      }
    },
  );

  it('rejects malformed payload data with ERR_INVALID_FRAME', () => {
    for (const [event, data] of [
      ['t', 'no-colon'],
      ['t', 'c:not json'],
      ['t', 'c:123'],
      ['b', 'c:abc'],
      ['b', 'c:ab$='],
      ['x', 'c:"y"'],
    ] as const) {
      expect(() => decodePayloadData(event, data)).toThrowError(
        expect.objectContaining({ code: 'ERR_INVALID_FRAME' }),
      );
    }
  });
});

describe('SSE upstream batch format on bytes', () => {
  it('lays out kind, channel length, channel, u32 length, payload', () => {
    const encoded = encodeBatch([
      { kind: 'message', channel: 'ab', data: 'hi' },
      { kind: 'message', channel: '', data: Uint8Array.of(1, 2) },
      { kind: 'close', code: 4000, reason: 'x' },
    ]);
    expect([...encoded]).toEqual([
      0,
      2,
      97,
      98,
      0,
      0,
      0,
      2,
      104,
      105, // text "hi" on "ab"
      1,
      0,
      0,
      0,
      0,
      2,
      1,
      2, // binary [1,2] on default channel
      2,
      0,
      0,
      0,
      0,
      3,
      0x0f,
      0xa0,
      120, // close 4000 "x"
    ]);
    expect(decodeBatch(encoded, 100)).toEqual([
      { kind: 'message', channel: 'ab', data: 'hi' },
      { kind: 'message', channel: '', data: Uint8Array.of(1, 2) },
      { kind: 'close', code: 4000, reason: 'x' },
    ]);
  });

  it('refuses a frame over the size limit with ERR_MESSAGE_TOO_BIG / 1009', () => {
    const encoded = encodeBatch([{ kind: 'message', channel: '', data: new Uint8Array(11) }]);
    expect(() => decodeBatch(encoded, 10)).toThrowError(
      expect.objectContaining({ code: 'ERR_MESSAGE_TOO_BIG', closeCode: 1009 }),
    );
  });

  it('refuses invalid UTF-8 in text frames with ERR_INVALID_UTF8 / 1007', () => {
    const bad = Uint8Array.of(0, 0, 0, 0, 0, 2, 0xc3, 0x28);
    expect(() => decodeBatch(bad, 100)).toThrowError(
      expect.objectContaining({ code: 'ERR_INVALID_UTF8', closeCode: 1007 }),
    );
  });

  it.each([
    ['truncated header', [0]],
    ['length past the end', [1, 0, 0, 0, 0, 9, 1]],
    ['unknown kind', [7, 0, 0, 0, 0, 0]],
    ['channel with a space', [0, 1, 32, 0, 0, 0, 0]],
    ['channel too long', [0, 65]],
    ['close without a code', [2, 0, 0, 0, 0, 1, 1]],
  ])('refuses a malformed batch (%s) with ERR_INVALID_FRAME / 1002', (_name, raw) => {
    expect(() => decodeBatch(Uint8Array.from(raw), 100)).toThrowError(
      expect.objectContaining({ code: 'ERR_INVALID_FRAME', closeCode: 1002 }),
    );
  });
});
