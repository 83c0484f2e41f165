/** Byte- and value-level tests of the core: channel framing, envelopes, codecs, close codes, strict UTF-8. */
import { describe, expect, it } from 'vitest';
import { base64ToBytes, base64urlToBytes } from './base64.ts';
import { CloseCode, capCloseReason, closeCodeInfo, isRetryable, isSendableCloseCode } from './close-codes.ts';
import { decodeAny, jsonCodec, msgpackCodec } from './codec.ts';
import { type Envelope, parseEnvelope } from './envelope.ts';
import { decodeBinaryFrame, decodeTextFrame, encodeBinaryFrame, encodeTextFrame } from './frame.ts';
import { decodeUtf8Strict, utf8Length } from './utf8.ts';

describe('channel framing', () => {
  it('prefixes text with "<channel>:" (one byte on the default channel)', () => {
    expect(encodeTextFrame('', 'hi')).toBe(':hi');
    expect(encodeTextFrame('chat', 'a:b')).toBe('chat:a:b');
    expect(decodeTextFrame('chat:a:b')).toEqual({ channel: 'chat', data: 'a:b' });
    expect(decodeTextFrame(':')).toEqual({ channel: '', data: '' });
  });

  it('prefixes bytes with a length byte and the channel name', () => {
    const frame = encodeBinaryFrame('ab', Uint8Array.of(9, 8));
    expect([...frame]).toEqual([2, 97, 98, 9, 8]);
    const decoded = decodeBinaryFrame(frame);
    expect(decoded.channel).toBe('ab');
    expect([...decoded.data]).toEqual([9, 8]);
    expect(decoded.data.buffer).toBe(frame.buffer); // a view, no copy
  });

  it.each([['no colon'], ['bad channel:x'], [`${'x'.repeat(65)}:y`]])('refuses text frame %j', (frame) => {
    expect(() => decodeTextFrame(frame)).toThrowError(
      expect.objectContaining({ code: 'ERR_INVALID_FRAME', closeCode: 1002 }),
    );
  });

  it.each([[[]], [[5, 97]], [[65]], [[1, 32]]])('refuses binary frame %j', (raw) => {
    expect(() => decodeBinaryFrame(Uint8Array.from(raw))).toThrowError(
      expect.objectContaining({ code: 'ERR_INVALID_FRAME' }),
    );
  });
});

describe('envelopes', () => {
  const valid: Envelope[] = [
    { type: 'hello', v: 1, token: 't', session: 's', resume: { a: 3 } },
    { type: 'hello', v: 1, lanes: 0 },
    { type: 'vpub', topic: 'cursor', data: { x: 1, y: 2 } },
    { type: 'vmsg', topic: 'cursor', data: { x: 1, y: 2 } },
    { type: 'welcome', session: 's', heartbeatMs: 1000, maxMessageBytes: 10, resumed: false },
    { type: 'ping', id: 1 },
    { type: 'pong', id: 1 },
    { type: 'sub', topic: 'a', since: 0 },
    { type: 'unsub', topic: 'a' },
    { type: 'pub', id: 'm1', topic: 'a', data: { x: [1, 2] } },
    { type: 'ack', id: 'm1' },
    { type: 'msg', topic: 'a', seq: 5, data: null },
    { type: 'reset', topic: 'a', seq: 9, reason: 'history trimmed' },
    { type: 'error', code: 'ERR_RATE_LIMITED', message: 'slow down', retryAfterMs: 100 },
  ];

  it.each(valid.map((e) => [e.type, e]))('round-trips %s through JSON and MessagePack', (_type, envelope) => {
    expect(jsonCodec.decode(jsonCodec.encode(envelope))).toEqual(envelope);
    expect(msgpackCodec.decode(msgpackCodec.encode(envelope))).toEqual(envelope);
    expect(decodeAny(msgpackCodec.encode(envelope))).toEqual(envelope);
  });

  it.each([
    [null, 'envelope: expected object, got null'],
    [[], 'envelope: expected object, got array'],
    [{}, 'envelope.type: expected one of'],
    [{ type: 'nope' }, 'got string "nope"'],
    [{ type: 'ping' }, 'ping.id: missing'],
    [{ type: 'ping', id: -1 }, 'ping.id: expected non-negative integer, got number'],
    [{ type: 'ping', id: 1.5 }, 'ping.id: expected non-negative integer'],
    [{ type: 'msg', topic: 'a', seq: 1 }, 'msg.data: missing'],
    [{ type: 'vpub', data: 1 }, 'vpub.topic: missing'],
    [{ type: 'vmsg', topic: 3, data: 1 }, 'vmsg.topic: expected string, got number'],
    [{ type: 'hello', v: 1, lanes: -1 }, 'hello.lanes: expected non-negative integer'],
    [
      { type: 'hello', v: 1, resume: { a: 'x' } },
      'hello.resume: expected object of at most 1024 topic -> non-negative integer',
    ],
    [{ type: 'sub', topic: 'x'.repeat(5000) }, 'sub.topic: string longer than 4096'],
    [
      { type: 'welcome', session: 's', heartbeatMs: 1, maxMessageBytes: 1, resumed: 'yes' },
      'welcome.resumed: expected boolean',
    ],
  ])('says what was expected and what arrived: %j', (value, message) => {
    expect(() => parseEnvelope(value)).toThrowError(
      expect.objectContaining({ code: 'ERR_INVALID_ENVELOPE', closeCode: 4004 }),
    );
    expect(() => parseEnvelope(value)).toThrowError(message);
  });

  it('turns any undecodable input into ERR_INVALID_ENVELOPE, never another exception', () => {
    const inputs: (string | Uint8Array)[] = [
      '',
      '{',
      'null',
      '"str"',
      '{"type":1}',
      Uint8Array.of(0xc1),
      Uint8Array.of(0x92),
    ];
    for (const input of inputs) {
      expect(() => decodeAny(input)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ENVELOPE' }));
    }
    expect(() => jsonCodec.decode(Uint8Array.of(1))).toThrowError(
      expect.objectContaining({ code: 'ERR_INVALID_ENVELOPE' }),
    );
    expect(() => msgpackCodec.decode('text')).toThrowError(
      expect.objectContaining({ code: 'ERR_INVALID_ENVELOPE' }),
    );
  });
});

describe('close codes', () => {
  it('stops retrying on fatal codes and retries transient ones', () => {
    for (const code of [
      CloseCode.Normal,
      CloseCode.ProtocolError,
      CloseCode.InvalidPayload,
      CloseCode.Unauthorized,
      CloseCode.ForbiddenOrigin,
      CloseCode.BadEnvelope,
    ]) {
      expect(isRetryable(code)).toBe(false);
    }
    for (const code of [
      CloseCode.GoingAway,
      CloseCode.Abnormal,
      CloseCode.ServiceRestart,
      CloseCode.HeartbeatTimeout,
      CloseCode.TokenExpired,
      CloseCode.RateLimited,
      CloseCode.SlowConsumer,
    ]) {
      expect(isRetryable(code)).toBe(true);
    }
    expect(closeCodeInfo(4999)).toMatchObject({ name: 'Unknown', retry: 'retry' });
  });

  it('gives every named code a reason for its decision', () => {
    for (const code of Object.values(CloseCode)) {
      const info = closeCodeInfo(code);
      expect(info.name).not.toBe('Unknown');
      expect(info.why.length).toBeGreaterThan(10);
    }
  });

  it('allows only sendable codes', () => {
    expect(isSendableCloseCode(1000)).toBe(true);
    expect(isSendableCloseCode(4000)).toBe(true);
    expect(isSendableCloseCode(1005)).toBe(false);
    expect(isSendableCloseCode(1006)).toBe(false);
    expect(isSendableCloseCode(2999)).toBe(false);
    expect(isSendableCloseCode(5000)).toBe(false);
  });

  it('caps reasons at 123 UTF-8 bytes without splitting a character', () => {
    expect(capCloseReason('a'.repeat(200))).toHaveLength(123);
    const capped = capCloseReason('😀'.repeat(40)); // 4 bytes each
    expect(new TextEncoder().encode(capped).byteLength).toBe(120);
    expect(capCloseReason('short')).toBe('short');
  });
});

describe('strict UTF-8', () => {
  it.each([
    ['overlong "/"', [0xc0, 0xaf]],
    ['lone continuation', [0x80]],
    ['truncated sequence', [0xe2, 0x82]],
    ['UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ['beyond U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ])('refuses %s with ERR_INVALID_UTF8 / 1007', (_name, raw) => {
    expect(() => decodeUtf8Strict(Uint8Array.from(raw))).toThrowError(
      expect.objectContaining({ code: 'ERR_INVALID_UTF8', closeCode: 1007 }),
    );
  });

  it('counts UTF-8 bytes exactly without encoding', () => {
    for (const text of ['', 'abc', 'é', '☃', '😀', 'a😀b', '\ud800', '\udc00x']) {
      expect(utf8Length(text)).toBe(new TextEncoder().encode(text).byteLength);
    }
  });
});

describe('strict base64', () => {
  it('decodes canonical padded base64 and refuses everything else with ERR_INVALID_FRAME', () => {
    expect([...base64ToBytes('AAEC/w==')]).toEqual([0, 1, 2, 255]);
    expect([...base64urlToBytes('AAEC_w')]).toEqual([0, 1, 2, 255]);
    expect(base64ToBytes('')).toEqual(new Uint8Array(0));
    for (const bad of ['AAE', 'AA EC', 'AA==AAAA', 'AAE=C', 'AAEC_w==', 'AAE\n', '====', 'A===']) {
      expect(() => base64ToBytes(bad), bad).toThrowError(
        expect.objectContaining({ code: 'ERR_INVALID_FRAME', closeCode: 1002 }),
      );
    }
  });
});
