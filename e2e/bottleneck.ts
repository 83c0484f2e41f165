/**
 * A narrow link in front of a server: a user-space relay on one port number for both TCP (HTTP, WebSocket,
 * SSE) and UDP (QUIC), forwarding the server -> client direction at a fixed rate, like the slow last hop of
 * a real path. TCP is paced by reading from the server only as fast as the link drains (TCP's own flow
 * control pushes back); UDP datagrams wait in a drop-tail queue like a router's (QUIC's congestion control
 * sees the drops). Client -> server traffic passes unpaced. Only loopback is ever a target.
 */
import dgram from 'node:dgram';
import net from 'node:net';

export interface BottleneckOptions {
  /** The server's port (TCP and UDP) on 127.0.0.1. */
  readonly target: number;
  /** Rate of the server -> client direction. */
  readonly bytesPerSecond: number;
  /** UDP datagrams queued at most before drops (default 64 KiB, ~64 ms at 1 MB/s). */
  readonly queueBytes?: number;
}

export interface BottleneckStats {
  udpForwarded: number;
  udpDropped: number;
  tcpBytes: number;
}

const TICK_MS = 2;
/** Bytes the link may send back to back after an idle moment: a few packets, as on a real link. */
const BURST_BYTES = 16 * 1024;

/** One rate shared by every flow: the link is what is narrow, not each connection. */
class Pacer {
  readonly #rate: number;
  #tokens = BURST_BYTES;
  #last = performance.now();
  readonly #waiting: (() => boolean)[] = [];
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(bytesPerSecond: number) {
    this.#rate = bytesPerSecond;
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  /** `drain` sends what the tokens allow and returns true when its flow has nothing left to send. */
  add(drain: () => boolean): void {
    this.#waiting.push(drain);
  }

  take(bytes: number): boolean {
    if (this.#tokens < bytes) return false;
    this.#tokens -= bytes;
    return true;
  }

  #tick(): void {
    const now = performance.now();
    this.#tokens = Math.min(BURST_BYTES, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
    // Round robin over flows so that one busy flow cannot take the whole link.
    for (let i = 0; i < this.#waiting.length; ) {
      const done = (this.#waiting[i] as () => boolean)();
      if (done) this.#waiting.splice(i, 1);
      else i++;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

export class Bottleneck {
  readonly port: number;
  readonly stats: BottleneckStats = { udpForwarded: 0, udpDropped: 0, tcpBytes: 0 };
  readonly #tcp: net.Server;
  readonly #udp: dgram.Socket;
  readonly #pacer: Pacer;
  readonly #sockets = new Set<net.Socket | dgram.Socket>();

  private constructor(port: number, tcp: net.Server, udp: dgram.Socket, pacer: Pacer) {
    this.port = port;
    this.#tcp = tcp;
    this.#udp = udp;
    this.#pacer = pacer;
  }

  static async start(options: BottleneckOptions): Promise<Bottleneck> {
    const pacer = new Pacer(options.bytesPerSecond);
    // TCP and UDP on the same port number, as the server itself listens (QUIC beside HTTP).
    for (let attempt = 0; ; attempt++) {
      const tcp = net.createServer();
      await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
      const port = (tcp.address() as net.AddressInfo).port;
      const udp = dgram.createSocket('udp4');
      const bound = await new Promise<boolean>((resolve) => {
        udp.once('error', () => resolve(false));
        udp.bind(port, '127.0.0.1', () => resolve(true));
      });
      if (!bound) {
        tcp.close();
        udp.close();
        if (attempt > 20) throw new Error('no port free for both TCP and UDP');
        continue;
      }
      const relay = new Bottleneck(port, tcp, udp, pacer);
      relay.#relayTcp(options.target);
      relay.#relayUdp(options.target, options.queueBytes ?? 64 * 1024);
      return relay;
    }
  }

  #relayTcp(target: number): void {
    this.#tcp.on('connection', (client) => {
      const upstream = net.connect(target, '127.0.0.1');
      this.#sockets.add(client).add(upstream);
      client.pipe(upstream);
      const queue: Buffer[] = [];
      let queued = 0;
      let scheduled = false;
      const drain = (): boolean => {
        while (queue.length > 0) {
          const chunk = queue[0] as Buffer;
          // Send what the link allows now; the rest of the chunk waits for the next tick.
          const size = Math.min(chunk.length, 4096);
          if (!this.#pacer.take(size)) return false;
          client.write(chunk.subarray(0, size));
          this.stats.tcpBytes += size;
          queued -= size;
          if (size === chunk.length) queue.shift();
          else queue[0] = chunk.subarray(size);
        }
        upstream.resume();
        scheduled = false;
        return true;
      };
      upstream.on('data', (chunk: Buffer) => {
        queue.push(chunk);
        queued += chunk.length;
        // Read no further than a little ahead of the link: TCP flow control holds the rest at the server.
        if (queued > 64 * 1024) upstream.pause();
        if (!scheduled) {
          scheduled = true;
          this.#pacer.add(drain);
        }
      });
      const end = () => {
        client.destroy();
        upstream.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(upstream);
      };
      for (const s of [client, upstream]) {
        s.on('error', end);
        s.on('close', end);
      }
    });
  }

  #relayUdp(target: number, queueLimit: number): void {
    const flows = new Map<string, dgram.Socket>();
    const queue: { data: Buffer; port: number; address: string }[] = [];
    let queued = 0;
    let scheduled = false;
    const drain = (): boolean => {
      while (queue.length > 0) {
        const next = queue[0] as { data: Buffer; port: number; address: string };
        if (!this.#pacer.take(next.data.length)) return false;
        queue.shift();
        queued -= next.data.length;
        this.#udp.send(next.data, next.port, next.address);
        this.stats.udpForwarded++;
      }
      scheduled = false;
      return true;
    };
    this.#udp.on('message', (data, from) => {
      const key = `${from.address}:${from.port}`;
      let upstream = flows.get(key);
      if (!upstream) {
        const socket = dgram.createSocket('udp4');
        socket.on('message', (reply) => {
          if (queued + reply.length > queueLimit) {
            this.stats.udpDropped++;
            return;
          }
          queue.push({ data: reply, port: from.port, address: from.address });
          queued += reply.length;
          if (!scheduled) {
            scheduled = true;
            this.#pacer.add(drain);
          }
        });
        socket.on('error', () => undefined);
        flows.set(key, socket);
        this.#sockets.add(socket);
        upstream = socket;
      }
      upstream.send(data, target, '127.0.0.1');
    });
  }

  async close(): Promise<void> {
    this.#pacer.stop();
    for (const s of this.#sockets) {
      if (s instanceof net.Socket) s.destroy();
      else s.close();
    }
    this.#udp.close();
    await new Promise<void>((resolve) => this.#tcp.close(() => resolve()));
  }
}
