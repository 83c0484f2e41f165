/**
 * What every conformance test file needs around an adapter: servers and transports that are closed after each
 * test, a server that hands its connections to the test, known failures shown as visible skips, and waiting.
 */
import { afterEach, expect, it } from 'vitest';
import type {
  CloseEvent,
  ConnectionHandler,
  MessageEvent,
  ServerConnection,
  ServerTransportLimits,
  Transport,
  TransportConnectOptions,
} from '../../src/transport.ts';
import type { ConformanceAdapter, ConformanceServer } from './adapters.ts';

export function once<T>(subscribe: (listener: (value: T) => void) => () => void): Promise<T> {
  return new Promise((resolve) => {
    const off = subscribe((value) => {
      off();
      resolve(value);
    });
  });
}

export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The data of the messages received on `channel`, in order (bytes as plain Uint8Arrays, comparable). */
export function onChannel(received: readonly MessageEvent[], channel: string): unknown[] {
  return received
    .filter((m) => m.channel === channel)
    .map((m) => (typeof m.data === 'string' ? m.data : Uint8Array.from(m.data)));
}

/** Call inside the adapter's `describe`: registers the cleanup after each test. */
export function conformanceHarness(adapter: ConformanceAdapter) {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** `it`, or a visible skip carrying the reason when the adapter declares this test a known failure. */
  const test = (key: string, name: string, fn: () => Promise<void>) => {
    const reason = adapter.knownFailures?.[key];
    if (reason) it.skip(`${name} [known failure on this adapter: ${reason}]`, fn);
    else it(name, fn);
  };

  async function start(
    onConnection: ConnectionHandler,
    limits?: Partial<ServerTransportLimits>,
  ): Promise<ConformanceServer> {
    const server = await adapter.start({ onConnection, ...(limits ? { limits } : {}) });
    cleanups.push(() => server.close());
    return server;
  }

  async function connect(
    server: ConformanceServer,
    options?: Partial<TransportConnectOptions>,
    viaPort?: number,
  ): Promise<Transport> {
    const transport = server.connect(options, viaPort);
    cleanups.push(() => {
      if (transport.state === 'open') transport.close();
    });
    if (transport.state !== 'open') {
      const outcome = await Promise.race([
        once<undefined>((l) => transport.on('open', l)).then(() => 'open'),
        once<CloseEvent>((l) => transport.on('close', l)).then((e) => `closed ${e.code} ${e.reason}`),
      ]);
      expect(outcome).toBe('open');
    }
    return transport;
  }

  /** Starts a server that hands its connections to the test. */
  async function startCapturing(limits?: Partial<ServerTransportLimits>) {
    const connections: ServerConnection[] = [];
    const server = await start((c) => {
      connections.push(c);
    }, limits);
    return {
      server,
      connections,
      nextConnection: () => until(() => connections.length > 0, 'server connection'),
    };
  }

  return { test, start, connect, startCapturing };
}
