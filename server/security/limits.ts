/**
 * Rate and resource limits that keep one client from exhausting a server: token buckets (per IP for HTTP
 * handshakes and posts, per connection for messages), a cap on connections per IP, and a slow-consumer bound
 * on what may queue towards one client. Applied as a `ConnectionHandler` wrapper, so every rung gets them.
 */
import { CloseCode } from '../../src/close-codes.ts';
import { SwitchyardError } from '../../src/errors.ts';
import type {
  ConnectionHandler,
  Payload,
  SendOptions,
  ServerConnection,
  ServerConnectionEvents,
} from '../../src/transport.ts';

/** Classic token bucket: `rate` tokens per second, at most `burst` saved up. */
export class TokenBucket {
  #tokens: number;
  #last: number;
  constructor(
    readonly rate: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#tokens = burst;
    this.#last = now();
  }

  /** Takes one token; returns 0 when allowed, else the milliseconds until one is available. */
  take(): number {
    const now = this.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.rate);
    this.#last = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.#tokens) / this.rate) * 1000);
  }
}

/** Buckets keyed by IP, forgotten when full again (so the map does not grow with every address ever seen). */
export class BucketsByKey {
  readonly #buckets = new Map<string, TokenBucket>();
  constructor(
    readonly rate: number,
    readonly burst: number,
  ) {}

  take(key: string): number {
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size > 50_000) this.#buckets.clear();
      bucket = new TokenBucket(this.rate, this.burst);
      this.#buckets.set(key, bucket);
    }
    return bucket.take();
  }
}

export interface ConnectionLimits {
  /** Messages a connection may send per second on average, and in a burst. */
  readonly messagesPerSecond: number;
  readonly messageBurst: number;
  /** Bytes that may queue towards one client before it counts as a slow consumer and is closed (4008). */
  readonly maxBufferedBytes: number;
  readonly maxConnectionsPerIp: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  messagesPerSecond: 200,
  messageBurst: 400,
  maxBufferedBytes: 8 * 1024 * 1024,
  maxConnectionsPerIp: 100,
};

/** Open connections per IP, shared by the admission (refuse early) and the guard (count). */
export class ConnectionCounter {
  readonly #byIp = new Map<string, number>();
  count(ip: string): number {
    return this.#byIp.get(ip) ?? 0;
  }
  add(ip: string): number {
    const n = this.count(ip) + 1;
    this.#byIp.set(ip, n);
    return n;
  }
  remove(ip: string): void {
    const n = this.count(ip) - 1;
    if (n <= 0) this.#byIp.delete(ip);
    else this.#byIp.set(ip, n);
  }
}

/** A ServerConnection whose `send` enforces the slow-consumer bound; everything else is the wrapped one. */
class GuardedConnection implements ServerConnection {
  constructor(
    private readonly inner: ServerConnection,
    private readonly maxBufferedBytes: number,
    private readonly onSlow: () => void,
  ) {}
  get id() {
    return this.inner.id;
  }
  get kind() {
    return this.inner.kind;
  }
  get capabilities() {
    return this.inner.capabilities;
  }
  get request() {
    return this.inner.request;
  }
  get state() {
    return this.inner.state;
  }
  get bufferedAmount() {
    return this.inner.bufferedAmount;
  }
  send(data: Payload, options?: SendOptions): Promise<void> {
    if (this.inner.bufferedAmount > this.maxBufferedBytes) {
      this.onSlow();
      return Promise.reject(
        new SwitchyardError('ERR_CLOSED', 'client is not reading: closed as a slow consumer', {
          closeCode: CloseCode.SlowConsumer,
        }),
      );
    }
    return this.inner.send(data, options);
  }
  close(code?: number, reason?: string): void {
    this.inner.close(code, reason);
  }
  on<K extends keyof ServerConnectionEvents>(type: K, listener: (event: ServerConnectionEvents[K]) => void) {
    return this.inner.on(type, listener);
  }
}

export function guardConnections(
  handler: ConnectionHandler,
  limits: ConnectionLimits,
  counter: ConnectionCounter,
): ConnectionHandler {
  return (connection) => {
    const ip = connection.request.ip;
    if (counter.add(ip) > limits.maxConnectionsPerIp) {
      counter.remove(ip);
      connection.close(
        CloseCode.TooManyConnections,
        `more than ${limits.maxConnectionsPerIp} connections from this address`,
      );
      return;
    }
    connection.on('close', () => counter.remove(ip));
    const bucket = new TokenBucket(limits.messagesPerSecond, limits.messageBurst);
    let limited = false;
    connection.on('message', () => {
      if (limited) return;
      const wait = bucket.take();
      if (wait > 0) {
        limited = true;
        connection.close(CloseCode.RateLimited, `rate limited: retry after ${Math.max(wait, 1000)} ms`);
      }
    });
    const guarded = new GuardedConnection(connection, limits.maxBufferedBytes, () =>
      connection.close(CloseCode.SlowConsumer, 'slow consumer: the send queue overflowed'),
    );
    handler(guarded);
  };
}
