/**
 * A real `ws` server socket bound by the Node WebSocket binding, paired with a real `ws` client on port 0, and what
 * the server's net socket writes: shared by the binding's tests (transports/websocket/server-node.test.ts) and its
 * framing tests (transports/websocket/node-frames.test.ts). Everything opened is closed after each test.
 */
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { DEFAULT_LIMITS, type ServerConnection } from '../src/transport.ts';
import { acceptNodeWebSocket, type NodeSocketGroup } from '../transports/websocket/server-node.ts';

export interface Pair {
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
/** Runs `cleanup` after the current test, in order with the pairs' own. */
export function afterTest(cleanup: () => void): void {
  cleanups.push(cleanup);
}
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

export async function listen(
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
export function captureWrites(ws: WebSocket): { readonly chunks: Buffer[]; readonly calls: number } {
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

/** What the client received, a text frame as its text, a binary one as `<binary>`. */
export const text = (pair: Pair) =>
  pair.received.map(([isBinary, bytes]) => (isBinary ? '<binary>' : bytes.toString()));
