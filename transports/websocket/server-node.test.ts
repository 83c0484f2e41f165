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
import {
  acceptNodeWebSocket,
  encodeBinaryFrameBuffer,
  encodeTextFrameBuffer,
  LARGE_MESSAGE_BYTES,
  NodeSocketGroup,
} from './server-node.ts';

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

/** Counts the calls that hand data to the kernel (`_write` for one chunk, `_writev` for several). */
function countWrites(ws: WebSocket): { readonly count: number } {
  const net = (ws as unknown as { _socket: Record<string, (...args: unknown[]) => unknown> })._socket;
  const counter = { count: 0 };
  for (const method of ['_write', '_writev'] as const) {
    const original = net[method]!;
    net[method] = function (this: unknown, ...args: unknown[]) {
      counter.count++;
      return original.apply(this, args);
    };
  }
  return counter;
}

const text = (pair: Pair) =>
  pair.received.map(([isBinary, bytes]) => (isBinary ? '<binary>' : bytes.toString()));

describe('Node WebSocket binding', () => {
  it('sends a burst made in one tick with one write, in order', async () => {
    const pair = await (await listen())();
    const writes = countWrites(pair.serverWs);
    for (let i = 0; i < 50; i++) void pair.server.send(`m${i}`, { channel: i % 2 ? 'odd' : '' });
    expect(writes.count).toBe(0);
    await pair.receivedCount(50);
    expect(writes.count).toBe(1);
    expect(text(pair)).toEqual(Array.from({ length: 50 }, (_, i) => (i % 2 ? `odd:m${i}` : `:m${i}`)));
  });

  it('sends made in separate ticks are written as they come (the counter sees every write)', async () => {
    const pair = await (await listen())();
    const writes = countWrites(pair.serverWs);
    for (let i = 0; i < 3; i++) {
      void pair.server.send(`m${i}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await pair.receivedCount(3);
    expect(writes.count).toBe(3);
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

  it('a large message goes out as two fragments (prefix, then the payload uncopied) and arrives as one', async () => {
    const pair = await (await listen())();
    const writes = countWrites(pair.serverWs);
    const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
    const text = 'é€𝄞x'.repeat(LARGE_MESSAGE_BYTES / 4);
    void pair.server.send(bytes, { channel: 'bin' });
    void pair.server.send(text);
    void pair.server.send(bytes);
    void pair.server.send(text, { channel: 'doc' });
    await pair.receivedCount(4);
    // One burst, one write: the fragments of every message leave in the same corked writev.
    expect(writes.count).toBe(1);
    const [a, b, c, d] = pair.received;
    expect(a![0]).toBe(true);
    expect(decodeBinaryFrame(a![1]).channel).toBe('bin');
    expect(Buffer.from(decodeBinaryFrame(a![1]).data).equals(Buffer.from(bytes))).toBe(true);
    expect(decodeTextFrame(Buffer.from(b![1]).toString())).toEqual({ channel: '', data: text });
    expect(decodeBinaryFrame(c![1]).channel).toBe('');
    expect(Buffer.from(decodeBinaryFrame(c![1]).data).equals(Buffer.from(bytes))).toBe(true);
    expect(decodeTextFrame(Buffer.from(d![1]).toString())).toEqual({ channel: 'doc', data: text });
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
