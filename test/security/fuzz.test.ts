/**
 * Fuzzing the boundaries: property tests on the envelope decoder and the SSE encoder (10,000 cases each),
 * and a raw-socket WebSocket fuzzer against a running server that must answer every broken frame with the
 * right close code, stay up, and keep serving a well-behaved client on another connection throughout.
 */
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startNodeServer } from '../../server/node.ts';
import { decodeAny, jsonCodec, msgpackCodec } from '../../src/codec.ts';
import type { Envelope } from '../../src/envelope.ts';
import { isSwitchyardError } from '../../src/errors.ts';
import type { Transport } from '../../src/transport.ts';
import { decodePayloadData, encodePayloadData, encodeSseEvent } from '../../transports/sse/encoder.ts';
import { createNodeWebSocketTransport } from '../../transports/websocket/node.ts';

const RUNS = 10_000;

describe('property tests', () => {
  it('the envelope decoder never throws anything but ERR_INVALID_ENVELOPE, on any text or bytes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.uint8Array({ maxLength: 256 })), (input) => {
        try {
          decodeAny(input);
        } catch (error) {
          if (!isSwitchyardError(error, 'ERR_INVALID_ENVELOPE')) throw error;
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('valid envelopes round-trip through JSON and MessagePack', () => {
    const envelope = fc.oneof(
      fc.record({ type: fc.constant('ping' as const), id: fc.nat() }),
      fc.record({
        type: fc.constant('pub' as const),
        id: fc.string({ maxLength: 40 }),
        topic: fc.string({ maxLength: 40 }),
        data: fc.jsonValue(),
      }),
      fc.record({
        type: fc.constant('msg' as const),
        topic: fc.string({ maxLength: 40 }),
        seq: fc.nat(),
        data: fc.jsonValue(),
      }),
      fc.record({
        type: fc.constant('hello' as const),
        v: fc.nat(),
        resume: fc.dictionary(fc.string({ maxLength: 10 }), fc.nat(), { maxKeys: 5 }),
      }),
    );
    // MessagePack refuses `__proto__` keys on purpose (prototype pollution); that refusal is tested below.
    const safe = envelope.filter((e) => !JSON.stringify(e).includes('"__proto__"'));
    fc.assert(
      fc.property(safe, (e) => {
        const value = e as Envelope;
        const normal = JSON.parse(JSON.stringify(value)) as Envelope; // -0 and friends as JSON sees them
        expect(jsonCodec.decode(jsonCodec.encode(value))).toEqual(normal);
        expect(msgpackCodec.decode(msgpackCodec.encode(normal))).toEqual(normal);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses a __proto__ key in MessagePack (prototype pollution) with ERR_INVALID_ENVELOPE', () => {
    const hostile = msgpackCodec.encode(
      JSON.parse('{"type":"msg","topic":"t","seq":1,"data":{"__proto__":{"polluted":true}}}'),
    );
    expect(() => msgpackCodec.decode(hostile)).toThrowError(
      expect.objectContaining({ code: 'ERR_INVALID_ENVELOPE' }),
    );
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('the SSE payload encoding round-trips any text and bytes, and never emits a line break', () => {
    const channel = fc.stringMatching(/^[A-Za-z0-9._~-]{0,64}$/);
    fc.assert(
      fc.property(
        channel,
        fc.oneof(fc.string({ unit: 'grapheme' }), fc.string(), fc.uint8Array()),
        (ch, data) => {
          const encoded = encodePayloadData(ch, data);
          expect(encoded.data).not.toMatch(/[\r\n]/);
          const decoded = decodePayloadData(encoded.event, encoded.data);
          expect(decoded.channel).toBe(ch);
          // Lone surrogates are not representable in UTF-8 anywhere; JSON keeps them escaped, so they survive too.
          expect(decoded.data).toEqual(data);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('the SSE event encoder emits exactly one event for any data, and refuses injection in event/id', () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ maxLength: 20 }), (data, name) => {
        let out: string;
        try {
          out = encodeSseEvent({ event: name, id: name, data });
        } catch (error) {
          expect(isSwitchyardError(error, 'ERR_INVALID_FRAME')).toBe(true);
          expect(name).toMatch(/[\r\n\0]/);
          return;
        }
        expect(out.endsWith('\n\n')).toBe(true);
        // Only the final terminator is a blank line: no second event can be smuggled in.
        expect(
          out
            .slice(0, -2)
            .split(/\r\n|\r|\n/)
            .includes(''),
        ).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });
});

/** Builds one client frame by hand. `mask: false` makes it illegal (clients must mask). */
function frame(
  opcode: number,
  payload: Uint8Array,
  options: { fin?: boolean; rsv?: number; mask?: boolean; length?: bigint } = {},
) {
  const fin = options.fin ?? true;
  const mask = options.mask ?? true;
  const first = (fin ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode;
  const length = options.length ?? BigInt(payload.byteLength);
  const header: number[] = [first];
  const maskBit = mask ? 0x80 : 0;
  if (length < 126n) header.push(maskBit | Number(length));
  else if (length < 65536n) header.push(maskBit | 126, Number(length >> 8n) & 255, Number(length) & 255);
  else {
    header.push(maskBit | 127);
    for (let i = 7; i >= 0; i--) header.push(Number((length >> BigInt(i * 8)) & 255n));
  }
  const key = [1, 2, 3, 4];
  if (mask) header.push(...key);
  const body = Uint8Array.from(payload, (b, i) => (mask ? b ^ key[i % 4]! : b));
  return Buffer.concat([Buffer.from(header), Buffer.from(body)]);
}

/** Sends raw bytes after a handshake and returns the close code the server answers with (or 'dropped'). */
async function attack(port: number, bytes: Buffer): Promise<number | 'dropped'> {
  const socket = net.connect(port, '127.0.0.1');
  const key = Buffer.from('0123456789abcdef').toString('base64');
  socket.write(
    `GET /rt/ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let buffer = Buffer.alloc(0);
  let upgraded = false;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('dropped');
    }, 3000);
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        upgraded = true;
        buffer = buffer.subarray(end + 4);
        socket.write(bytes);
      }
      // A close frame from the server: 0x88, length, code.
      if (buffer.length >= 4 && buffer[0] === 0x88) {
        clearTimeout(timer);
        socket.destroy();
        resolve(buffer.readUInt16BE(2));
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve('dropped');
    });
    socket.on('error', () => {});
  });
}

describe('raw WebSocket fuzzer against a running server', () => {
  let server: RunningServer;
  let good: Transport;
  let goodEchoes = 0;

  beforeAll(async () => {
    server = await startNodeServer({
      onConnection: (c) => c.on('message', (m) => c.send(m.data, { channel: m.channel }).catch(() => {})),
      limits: { maxMessageBytes: 64 * 1024 },
    });
    good = createNodeWebSocketTransport({ url: `${server.url.replace('http', 'ws')}/rt/ws` });
    await new Promise((resolve) => good.on('open', resolve));
    good.on('message', () => goodEchoes++);
  });

  afterAll(async () => {
    good.close();
    await server.close();
  });

  const text = (s: string) => new TextEncoder().encode(s);
  const cases: [string, () => Buffer, number][] = [
    ['unmasked client frame', () => frame(1, text(':hi'), { mask: false }), 1002],
    ['reserved opcode 0x3', () => frame(3, text('x')), 1002],
    ['reserved opcode 0xB (control)', () => frame(0xb, text('x')), 1002],
    ['RSV1 set without an extension', () => frame(1, text(':x'), { rsv: 4 }), 1002],
    ['64-bit length with the top bit set', () => frame(2, new Uint8Array(0), { length: 1n << 63n }), 1009],
    ['length over maxPayload', () => frame(2, new Uint8Array(0), { length: 10n * 1024n * 1024n }), 1009],
    ['continuation without a start', () => frame(0, text('x')), 1002],
    [
      'new data frame inside a fragmented message',
      () => Buffer.concat([frame(1, text(':a'), { fin: false }), frame(1, text('b'))]),
      1002,
    ],
    ['control frame over 125 bytes', () => frame(9, new Uint8Array(126)), 1002],
    ['fragmented control frame', () => frame(9, text('x'), { fin: false }), 1002],
    ['invalid UTF-8 in a text frame', () => frame(1, Uint8Array.of(0x3a, 0xc3, 0x28)), 1007],
    ['invalid UTF-8 in a close reason', () => frame(8, Uint8Array.of(0x03, 0xe8, 0xc3, 0x28)), 1007],
    ['close frame with a 1-byte payload', () => frame(8, Uint8Array.of(1)), 1002],
    ['close code 1005 (never sent on the wire)', () => frame(8, Uint8Array.of(0x03, 0xed)), 1002],
    ['text without our channel prefix', () => frame(1, text('no prefix')), 1002],
    ['binary channel length past the end', () => frame(2, Uint8Array.of(9, 97)), 1002],
  ];

  for (const [name, build, expected] of cases) {
    it(`${name}: closes with ${expected}, the server stays up, the other client keeps working`, async () => {
      expect(await attack(server.port, build())).toBe(expected);
      const before = goodEchoes;
      await good.send('still there?');
      await expect.poll(() => goodEchoes).toBe(before + 1);
    });
  }

  it('a burst of random garbage frames never takes the server down', async () => {
    const garbage = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 200 }), { numRuns: 200, seed: 42 });
    const results = await Promise.all(garbage.map((bytes) => attack(server.port, Buffer.from(bytes))));
    expect(results).toHaveLength(200);
    const before = goodEchoes;
    await good.send('after the burst');
    await expect.poll(() => goodEchoes).toBe(before + 1);
  });
});
