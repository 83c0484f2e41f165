/**
 * A TCP balancer the test steers: every new connection goes to the node currently chosen (`target`), like a
 * load balancer whose pick the test decides; established connections can be cut (RST-like), or have their
 * downstream muted first (the server's answers, e.g. acks, never arrive: the client must re-send and the new
 * node must deduplicate), and new connections refused (`down`: the client is offline).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class SteeringBalancer {
  readonly #server: Server;
  readonly #pairs = new Set<{ a: Socket; b: Socket; muted: boolean }>();
  target: number;
  down = false;
  port = 0;

  private constructor(target: number) {
    this.target = target;
    this.#server = createServer((a) => {
      a.on('error', () => undefined);
      if (this.down) {
        a.destroy();
        return;
      }
      const b = connect(this.target, '127.0.0.1');
      const pair = { a, b, muted: false };
      this.#pairs.add(pair);
      b.on('error', () => undefined);
      a.on('close', () => {
        b.destroy();
        this.#pairs.delete(pair);
      });
      b.on('close', () => a.destroy());
      a.on('data', (chunk) => b.write(chunk));
      b.on('data', (chunk) => {
        if (!pair.muted) a.write(chunk);
      });
    });
  }

  static async start(target: number): Promise<SteeringBalancer> {
    const balancer = new SteeringBalancer(target);
    await new Promise<void>((resolve) => balancer.#server.listen(0, '127.0.0.1', resolve));
    const address = balancer.#server.address();
    balancer.port = typeof address === 'object' && address ? address.port : 0;
    return balancer;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Server-to-client bytes of open connections are dropped from now on (the client still sends). */
  muteDownstream(): void {
    for (const pair of this.#pairs) pair.muted = true;
  }

  /** Cuts every open connection at once. */
  cut(): void {
    for (const pair of this.#pairs) {
      pair.a.resetAndDestroy();
      pair.b.destroy();
    }
    this.#pairs.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
