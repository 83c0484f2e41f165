/**
 * The Node binding's own behaviour: corked bursts, the fan-out frame cache, Buffer framing and the shared ping
 * sweep, a server's socket group. Observable effects only (writes on the net socket, bytes the peer receives, close codes), no timings.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { CloseCode } from '../../src/close-codes.ts';
import { decodeBinaryFrame, decodeTextFrame, encodeBinaryFrame, encodeTextFrame } from '../../src/frame.ts';
import { DEFAULT_LIMITS, type ServerConnection } from '../../src/transport.ts';
import { Utf8Text } from '../../src/utf8-text.ts';
import {
  encodeBinaryFrameBuffer,
  encodeTextFrameBuffer,
  LARGE_MESSAGE_BYTES,
  largeFrameHead,
} from './node-frames.ts';
import { acceptNodeWebSocket, NodeSocketGroup } from './server-node.ts';

/** Off: the binding finds no `ws` internals to write frames with (another `ws` version), as the fallback sees it. */
const internals = vi.hoisted(() => ({ direct: true }));
vi.mock('./ws-internals.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('./ws-internals.ts')>();
  return {
    ...actual,
    directSocketOf: (ws: WebSocket) => (internals.direct ? actual.directSocketOf(ws) : undefined),
  };
});

interface Pair {
  readonly server: ServerConnection;
  /** The `ws` socket on the server side (its `_socket` is the net.Socket written to). */
  readonly serverWs: WebSocket;
  readonly client: WebSocket;
  /** Every frame the client received, in order, as [isBinary, bytes]. */
  readonly received: [boolean, Buffer][];
  /** Resolves once the client has received `n` frames in total. */
  receivedCount(n: number): Promise<void>;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  internals.direct = true;
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function listen(
  pingIntervalMs = 0,
  group?: NodeSocketGroup,
): Promise<(options?: { autoPong?: boolean }) => Promise<Pair>> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  cleanups.push(() => {
    for (const client of wss.clients) client.terminate();
    wss.close();
  });
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  return async (options = {}) => {
    const accepted = new Promise<[ServerConnection, WebSocket]>((resolve) =>
      wss.once('connection', (ws) =>
        resolve([
          acceptNodeWebSocket(
            ws,
            { url, origin: null, ip: '127.0.0.1', headers: {} },
            {
              limits: DEFAULT_LIMITS,
              pingIntervalMs,
              ...(group ? { group } : {}),
            },
          ),
          ws,
        ]),
      ),
    );
    const client = new WebSocket(url, { perMessageDeflate: false, autoPong: options.autoPong ?? true });
    cleanups.push(() => client.terminate());
    const received: [boolean, Buffer][] = [];
    const waiters: { n: number; resolve: () => void }[] = [];
    client.on('message', (data, isBinary) => {
      received.push([isBinary, data as Buffer]);
      for (const waiter of waiters) if (received.length >= waiter.n) waiter.resolve();
    });
    await new Promise<void>((resolve, reject) => {
      client.once('open', () => resolve());
      client.once('error', reject);
    });
    const [server, serverWs] = await accepted;
    return {
      server,
      serverWs,
      client,
      received,
      receivedCount: (n) =>
        received.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })),
    };
  };
}

/** Every chunk the net socket hands to the kernel, and how many calls handed them (`_write` or `_writev`). */
function captureWrites(ws: WebSocket): { readonly chunks: Buffer[]; readonly calls: number } {
  const net = (ws as unknown as { _socket: Record<string, (...args: unknown[]) => unknown> })._socket;
  const wire = { chunks: [] as Buffer[], calls: 0 };
  const take = (chunk: unknown, encoding: unknown) =>
    wire.chunks.push(
      typeof chunk === 'string'
        ? Buffer.from(chunk, encoding as BufferEncoding)
        : Buffer.from(chunk as Uint8Array),
    );
  const write = net._write!;
  const writev = net._writev!;
  net._write = function (this: unknown, chunk: unknown, encoding: unknown, cb: unknown) {
    wire.calls++;
    take(chunk, encoding);
    return write.call(this, chunk, encoding, cb);
  };
  net._writev = function (this: unknown, chunks: unknown, cb: unknown) {
    wire.calls++;
    for (const { chunk, encoding } of chunks as { chunk: unknown; encoding: unknown }[])
      take(chunk, encoding);
    return writev.call(this, chunks, cb);
  };
  return wire;
}

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

const text = (pair: Pair) =>
  pair.received.map(([isBinary, bytes]) => (isBinary ? '<binary>' : bytes.toString()));

describe('Node WebSocket binding', () => {
  it('sends a burst made in one tick with one write, in order', async () => {
    const pair = await (await listen())();
    const writes = captureWrites(pair.serverWs);
    for (let i = 0; i < 50; i++) void pair.server.send(`m${i}`, { channel: i % 2 ? 'odd' : '' });
    expect(writes.calls).toBe(0);
    await pair.receivedCount(50);
    expect(writes.calls).toBe(1);
    expect(text(pair)).toEqual(Array.from({ length: 50 }, (_, i) => (i % 2 ? `odd:m${i}` : `:m${i}`)));
  });

  it('sends made in separate ticks are written as they come (the counter sees every write)', async () => {
    const pair = await (await listen())();
    const writes = captureWrites(pair.serverWs);
    for (let i = 0; i < 3; i++) {
      void pair.server.send(`m${i}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await pair.receivedCount(3);
    expect(writes.calls).toBe(3);
    expect(text(pair)).toEqual([':m0', ':m1', ':m2']);
  });

  it('a close right after a burst still sends the burst, then the close frame', async () => {
    const pair = await (await listen())();
    const closed = new Promise<number>((resolve) => pair.client.once('close', (code) => resolve(code)));
    for (let i = 0; i < 5; i++) void pair.server.send(`m${i}`);
    pair.server.close(4321, 'bye');
    expect(await closed).toBe(4321);
    expect(text(pair)).toEqual([':m0', ':m1', ':m2', ':m3', ':m4']);
  });

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

  it('sockets without extensions share one frozen empty extensions object, and still echo and close', async () => {
    const connect = await listen();
    const [a, b] = [await connect(), await connect()];
    const internals = (ws: WebSocket) =>
      ws as unknown as {
        _extensions: object;
        _receiver: { _extensions: object };
        _sender: { _extensions: object };
      };
    const shared = internals(a.serverWs)._extensions;
    expect(Object.isFrozen(shared)).toBe(true);
    expect(internals(b.serverWs)._extensions).toBe(shared);
    expect(internals(a.serverWs)._receiver._extensions).toBe(shared);
    expect(internals(a.serverWs)._sender._extensions).toBe(shared);
    expect(a.serverWs.extensions).toBe('');
    a.server.on('message', (m) => void a.server.send(m.data, { channel: m.channel }));
    a.client.send(encodeTextFrame('', 'hi'));
    await a.receivedCount(1);
    expect(text(a)).toEqual([':hi']);
    const closed = new Promise<number>((resolve) => a.client.once('close', resolve));
    a.server.close(CloseCode.Normal, 'bye');
    expect(await closed).toBe(CloseCode.Normal);
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

  it.each([
    ['the shared sweep of an interval', () => listen(250)],
    ["a server's own group", () => listen(0, new NodeSocketGroup(250))],
  ])(
    'one ping sweep (%s) terminates the peer that stopped answering and keeps the one that answers',
    async (_, make) => {
      const connect = await make();
      const live = await connect();
      const dead = await connect({ autoPong: false });
      const closed = new Promise<number>((resolve) =>
        dead.server.on('close', (event) => resolve(event.code)),
      );
      expect(await closed).toBe(CloseCode.HeartbeatTimeout);
      expect(live.server.state).toBe('open');
      void live.server.send('still here');
      await live.receivedCount(1);
      expect(text(live)).toEqual([':still here']);
    },
  );

  it("a server's socket group finds its sockets: terminateAll drops them (1006) and leaves the group empty", async () => {
    const group = new NodeSocketGroup(0);
    const connect = await listen(0, group);
    const pairs = [await connect(), await connect()];
    expect(group.size).toBe(2);
    const peers = pairs.map((p) => new Promise<number>((resolve) => p.client.once('close', resolve)));
    const servers = pairs.map(
      (p) => new Promise<number>((resolve) => p.server.on('close', (e) => resolve(e.code))),
    );
    group.terminateAll();
    expect(await Promise.all(peers)).toEqual([CloseCode.Abnormal, CloseCode.Abnormal]);
    expect(await Promise.all(servers)).toEqual([CloseCode.Abnormal, CloseCode.Abnormal]);
    expect(group.size).toBe(0);
  });

  it('anything the peer sends proves it alive, not only a pong; silence since the last ping is death', async () => {
    // Only the group's sweep timer is driven by hand; sockets and `ws` keep real time.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    cleanups.push(() => vi.useRealTimers());
    const group = new NodeSocketGroup(1000);
    const pair = await (await listen(0, group))({ autoPong: false });
    const codes: number[] = [];
    pair.server.on('close', (event) => codes.push(event.code));
    const closed = new Promise<void>((resolve) => pair.server.on('close', () => resolve()));
    vi.advanceTimersByTime(1000);
    const heard = new Promise<void>((resolve) => pair.server.on('message', () => resolve()));
    pair.client.send(':still talking');
    await heard;
    vi.advanceTimersByTime(1000);
    expect(pair.server.state).toBe('open');
    vi.advanceTimersByTime(1000);
    await closed;
    expect(codes).toEqual([CloseCode.HeartbeatTimeout]);
  });
});
