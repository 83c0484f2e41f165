/**
 * Large JSON `pub`s travel through the server as bytes (RawJson): seen from raw `ws` clients, they are acked,
 * delivered with the same value to JSON and MessagePack subscribers, replayed from history identically,
 * refused with BadEnvelope when broken, and shown to an app's onPublish hook as plain values.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CloseCode } from '../../src/close-codes.ts';
import { jsonCodec } from '../../src/codec.ts';
import { stringScanner, useStringScanner } from '../../src/json-bytes.ts';
import { RAW_JSON_MIN_BYTES } from '../../src/json-envelope.ts';
import { RawJson } from '../../src/raw-json.ts';
import { encodeUtf8 } from '../../src/utf8.ts';
import { type RawProtocolClient, type Received, rawProtocolClient } from '../../test/raw-protocol-client.ts';
import { MemoryHub } from '../hub/memory.ts';
import { type RunningServer, startNodeServer } from '../node.ts';
import { createProtocol, type Protocol, type ProtocolOptions } from './index.ts';

let server: RunningServer | undefined;
let protocol: Protocol | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  await server?.close();
  protocol?.close();
  server = undefined;
});

async function start(options: Partial<ProtocolOptions> = {}): Promise<MemoryHub> {
  const hub = new MemoryHub({ historyBytes: 8 * 1024 * 1024 });
  protocol = createProtocol({ hub, heartbeatMs: 60_000, ...options });
  server = await startNodeServer({
    onConnection: protocol.onConnection,
    limits: { maxMessageBytes: 2 * 1024 * 1024 },
  });
  return hub;
}

/** Over the size from which `data` stays bytes, whatever that threshold is set to. */
const LARGE = RAW_JSON_MIN_BYTES + 4096;

function connect(codec: 'json' | 'msgpack'): Promise<RawProtocolClient> {
  return rawProtocolClient(server?.url ?? '', codec, (ws) => sockets.push(ws));
}

function values(size: number): [string, unknown][] {
  const text = 'é'.repeat(size / 2);
  const objects = Array.from({ length: Math.ceil(size / 40) }, (_, i) => ({
    i,
    s: `v\n${i}`,
    ok: i % 2 === 0,
  }));
  return [
    ['string', text],
    ['object', { name: 'doc', items: objects, nested: { deep: [[{ x: null }]] } }],
    ['array', objects.map((o) => [o.i, o.s, 1.5e-7])],
  ];
}

const CASES = [64 * 1024, 1024 * 1024].flatMap((size) =>
  values(size).map(([kind, data]) => [`${size / 1024} KiB ${kind}`, data] as const),
);

describe('large JSON messages through the protocol', () => {
  it.each(CASES)(
    '%s: acked, delivered to JSON and MessagePack alike, replayed identically',
    async (_, data) => {
      await start();
      const json = await connect('json');
      const packed = await connect('msgpack');
      json.send({ type: 'sub', topic: 'docs' });
      packed.send({ type: 'sub', topic: 'docs' });
      await json.next('reset');
      await packed.next('reset');
      const publisher = await connect('json');
      // Whitespace inside and around `data` is fine: it is JSON.
      publisher.send(`{"type":"pub", "id":"m1","topic":"docs","data":  ${JSON.stringify(data, null, 1)} }`);
      expect(await publisher.next('ack')).toEqual({ type: 'ack', id: 'm1' });
      expect(await json.next('msg')).toEqual({ type: 'msg', topic: 'docs', seq: 1, data });
      expect(await packed.next('msg')).toEqual({ type: 'msg', topic: 'docs', seq: 1, data });
      // From history: a JSON and a MessagePack client resuming from 0.
      const late = await connect('json');
      late.send({ type: 'sub', topic: 'docs', since: 0 });
      expect(await late.next('msg')).toEqual({ type: 'msg', topic: 'docs', seq: 1, data });
      const latePacked = await connect('msgpack');
      latePacked.send({ type: 'sub', topic: 'docs', since: 0 });
      expect(await latePacked.next('msg')).toEqual({ type: 'msg', topic: 'docs', seq: 1, data });
    },
  );

  it('a JSON subscriber gets the data as published, byte for byte, in the text encode() writes', async () => {
    await start();
    const subscriber = await connect('json');
    const frames: string[] = [];
    subscriber.ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) frames.push(data.toString('utf8'));
    });
    subscriber.send({ type: 'sub', topic: 'dôcs' });
    await subscriber.next('reset');
    // Whitespace, escapes and characters of every UTF-8 length: the bytes go out as they came in.
    const published = ` {"text": "é ☃ 😀 \\n \\u00e9", "list": [ 1, 2.50, -0e0 ],\n "x": "${'y'.repeat(LARGE)}"} `;
    const publisher = await connect('json');
    publisher.send(`{"type":"pub","id":"b1","topic":"dôcs","data":${published}}`);
    await subscriber.next('msg');
    const expected = jsonCodec.encode({
      type: 'msg',
      topic: 'dôcs',
      seq: 1,
      data: new RawJson(encodeUtf8(published.trim())),
    });
    expect(frames.at(-1)).toBe(`:${expected}`);
    // The value as published, from its first byte to its last (the whitespace around it is not part of it).
    expect(expected).toContain(published.trim());
  });

  it('the protocol validates long strings with the SIMD scanner (where WebAssembly SIMD exists, as on Node)', () => {
    useStringScanner(undefined);
    createProtocol({ hub: new MemoryHub() }).close();
    expect(stringScanner()).toBeDefined();
  });

  it('a large vpub reaches subscribers with its value', async () => {
    // Volatile messages over this are dropped rather than queued (default 64 KiB).
    await start({ volatileHighWaterMark: 1024 * 1024 });
    const json = await connect('json');
    json.send({ type: 'sub', topic: 't' });
    await json.next('reset');
    const data = { blob: 'x'.repeat(LARGE) };
    (await connect('json')).send({ type: 'vpub', topic: 't', data });
    expect(await json.next('vmsg')).toEqual({ type: 'vmsg', topic: 't', data });
  });

  it('the hub holds a RawJson (the data was never parsed) and the API history page gives values', async () => {
    const hub = await start();
    const publisher = await connect('json');
    const data = { big: 'y'.repeat(LARGE) };
    publisher.send({ type: 'pub', id: '1', topic: 'h', data });
    await publisher.next('ack');
    let seen: unknown;
    const sub = await hub.subscribe('h', 0, (event) => {
      if (event.type === 'msg') seen = event.data;
    });
    sub.unsubscribe();
    expect(seen).toBeInstanceOf(RawJson);
    expect((seen as RawJson).value()).toEqual(data);
    const page = await hub.history('h', { limit: 10 });
    expect(page.messages).toEqual([{ seq: 1, data }]);
  });

  const BROKEN: [string, string][] = [
    ['a raw control character in a string', `"${'a'.repeat(LARGE)}\u0001"`],
    ['an unterminated string', `"${'a'.repeat(LARGE)}`],
    ['a trailing comma', `["${'a'.repeat(LARGE)}",]`],
  ];
  it.each(BROKEN)('invalid large data (%s) closes with BadEnvelope', async (_, data) => {
    await start();
    const publisher = await connect('json');
    publisher.send(`{"type":"pub","id":"1","topic":"t","data":${data}}`);
    const error = await publisher.next('error');
    expect(error).toMatchObject({ code: 'ERR_INVALID_ENVELOPE' });
    expect(String(error.message)).toMatch(/at byte \d+/);
    expect(await publisher.closed).toBe(CloseCode.BadEnvelope);
  });

  it('an onPublish hook sees the plain value, not a RawJson', async () => {
    const seen: unknown[] = [];
    await start({
      onPublish: (event) => {
        seen.push(event.data);
      },
    });
    const publisher = await connect('json');
    const data = { list: Array.from({ length: LARGE / 8 }, (_, i) => `item ${i}`) };
    publisher.send({ type: 'pub', id: '1', topic: 't', data });
    await publisher.next('ack');
    publisher.send({ type: 'vpub', topic: 't', data });
    await new Promise<void>((resolve) => {
      const poll = () => (seen.length === 2 ? resolve() : setImmediate(poll));
      poll();
    });
    expect(seen).toEqual([data, data]);
    expect(seen.some((d) => d instanceof RawJson)).toBe(false);
  });

  it('a large pub pipelined before welcome is kept as bytes and handled after it', async () => {
    await start({ authenticate: () => new Promise((resolve) => setTimeout(() => resolve(null), 20)) });
    const ws = new WebSocket(`${server?.url.replace('http', 'ws')}/rt/ws`);
    sockets.push(ws);
    const got: Received[] = [];
    ws.on('message', (d: Buffer) => got.push(JSON.parse(d.toString('utf8').slice(1)) as Received));
    await new Promise((resolve) => ws.on('open', resolve));
    const data = { big: 'z'.repeat(LARGE) };
    ws.send(`:${JSON.stringify({ type: 'hello', v: 1 })}`);
    ws.send(`:${JSON.stringify({ type: 'sub', topic: 'early' })}`);
    ws.send(`:${JSON.stringify({ type: 'pub', id: 'e', topic: 'early', data })}`);
    await new Promise<void>((resolve) => {
      const poll = () => (got.some((e) => e.type === 'msg') ? resolve() : setTimeout(poll, 5));
      poll();
    });
    expect(got.map((e) => e.type)).toEqual(['welcome', 'reset', 'msg', 'ack']);
    expect(got[2]).toEqual({ type: 'msg', topic: 'early', seq: 1, data });
  });
});
