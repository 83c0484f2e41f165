/**
 * A TCP relay for client tests: stands between client and server like a proxy or NAT box, and can be
 * told to misbehave the way real paths do: hold new connections without forwarding (a blocked rung),
 * stop forwarding established ones without closing them (a silent dead path), or cut them (a drop).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export type RelayMode = 'forward' | 'blackhole';

export class TcpRelay {
  readonly #server: Server;
  readonly #pairs = new Set<{ a: Socket; b: Socket | undefined; frozen: boolean }>();
  mode: RelayMode;
  port = 0;
  /** Connections accepted so far. */
  accepted = 0;

  private constructor(targetPort: number, mode: RelayMode) {
    this.mode = mode;
    this.#server = createServer((a) => {
      this.accepted++;
      const pair: { a: Socket; b: Socket | undefined; frozen: boolean } = { a, b: undefined, frozen: false };
      this.#pairs.add(pair);
      a.on('error', () => undefined);
      a.on('close', () => {
        if (!pair.frozen) pair.b?.destroy();
        this.#pairs.delete(pair);
      });
      if (this.mode === 'blackhole') return; // accept and hold: bytes go nowhere
      const b = connect(targetPort, '127.0.0.1');
      pair.b = b;
      b.on('error', () => undefined);
      // A frozen path carries nothing, not even the news that the other side went away.
      b.on('close', () => {
        if (!pair.frozen) a.destroy();
      });
      a.on('data', (chunk) => {
        if (!pair.frozen) b.write(chunk);
      });
      b.on('data', (chunk) => {
        if (!pair.frozen) a.write(chunk);
      });
    });
  }

  static async start(targetPort: number, mode: RelayMode = 'forward'): Promise<TcpRelay> {
    const relay = new TcpRelay(targetPort, mode);
    await new Promise<void>((resolve) => relay.#server.listen(0, '127.0.0.1', () => resolve()));
    const address = relay.#server.address();
    relay.port = typeof address === 'object' && address ? address.port : 0;
    return relay;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Established connections stop carrying bytes in both directions, and stay open (no FIN, no RST). */
  freeze(): void {
    for (const pair of this.#pairs) pair.frozen = true;
  }

  /** Cuts every established connection abruptly (RST), like a NAT box forgetting them. */
  cut(): void {
    for (const pair of this.#pairs) {
      pair.a.resetAndDestroy();
      pair.b?.resetAndDestroy();
    }
  }

  get open(): number {
    return this.#pairs.size;
  }

  async close(): Promise<void> {
    for (const pair of this.#pairs) {
      pair.a.destroy();
      pair.b?.destroy();
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
