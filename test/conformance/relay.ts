/**
 * A TCP relay the conformance suite puts between client and server. Pausing one direction makes the kernel
 * buffers fill for real, which is how a peer that "does not read" looks to any rung built on TCP. This keeps
 * the backpressure tests rung-agnostic instead of poking at each runtime's socket internals.
 */
import net from 'node:net';

export interface Relay {
  readonly port: number;
  /** Stop / restart moving bytes server -> client. */
  pauseDownstream(): void;
  resumeDownstream(): void;
  /** Stop / restart moving bytes client -> server. */
  pauseUpstream(): void;
  resumeUpstream(): void;
  close(): Promise<void>;
}

export async function startRelay(targetPort: number, targetHost = '127.0.0.1'): Promise<Relay> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let downPaused = false;
  let upPaused = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    const pair = { client, upstream };
    pairs.add(pair);
    // Manual piping so that pausing stops reading (and so stops acknowledging) on the source side.
    upstream.on('data', (chunk) => {
      if (!client.write(chunk)) upstream.pause();
    });
    client.on('drain', () => {
      if (!downPaused) upstream.resume();
    });
    client.on('data', (chunk) => {
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => {
      if (!upPaused) client.resume();
    });
    if (downPaused) upstream.pause();
    if (upPaused) client.pause();
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    pauseDownstream() {
      downPaused = true;
      for (const p of pairs) p.upstream.pause();
    },
    resumeDownstream() {
      downPaused = false;
      for (const p of pairs) p.upstream.resume();
    },
    pauseUpstream() {
      upPaused = true;
      for (const p of pairs) p.client.pause();
    },
    resumeUpstream() {
      upPaused = false;
      for (const p of pairs) p.client.resume();
    },
    async close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
