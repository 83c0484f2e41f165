/**
 * The server half of the switchyard application protocol, as one `ConnectionHandler` for any rung:
 * hello -> welcome (session, resumed), ping -> pong, sub/unsub with resume from the hub's history,
 * pub -> session dedup -> app callback -> ack, `msg` fan-out with per-topic seq, `reset`, `error`.
 * Every queue is bounded: a connection that cannot keep up is closed (SlowConsumer), one that floods
 * is closed (TryAgainLater), and malformed input closes with BadEnvelope (4004). See docs/protocol.md.
 */
import type { Refusal } from '../../src/admission.ts';
import { CloseCode } from '../../src/close-codes.ts';
import { type Codec, codecs } from '../../src/codec.ts';
import {
  type Envelope,
  type HelloEnvelope,
  PROTOCOL_VERSION,
  type PublishEnvelope,
} from '../../src/envelope.ts';
import { isSwitchyardError } from '../../src/errors.ts';
import type { ConnectionHandler, Payload, ServerConnection } from '../../src/transport.ts';
import { DEFAULT_LIMITS } from '../../src/transport.ts';
import { payloadByteLength } from '../../src/utf8.ts';
import type { Hub, HubEvent, HubSubscription } from '../hub/hub.ts';
import { type PublishOutcome, type Session, SessionStore, type SessionStoreOptions } from './sessions.ts';

/** What hooks learn about the connection a message came from. */
export interface ProtocolContext {
  readonly connection: ServerConnection;
  readonly session: Session;
  readonly hello: HelloEnvelope;
}

export interface PublishEvent extends ProtocolContext {
  /** The client's message id (unique per session; duplicates never reach this callback within the dedup window). */
  readonly id: string;
  readonly topic: string | undefined;
  readonly data: unknown;
}

/** A refusal of one operation, sent to the client as an `error` envelope (the connection stays open). */
export interface OperationRefusal {
  readonly code: string;
  readonly message: string;
}

export interface ProtocolOptions {
  readonly hub: Hub;
  /** Heartbeat interval announced in `welcome`; use the same value as the app's `heartbeatMs` (default 15 s). */
  readonly heartbeatMs?: number;
  /** Announced in `welcome` (default: DEFAULT_LIMITS.maxMessageBytes). */
  readonly maxMessageBytes?: number;
  /** Token check on the `hello` message; a refusal sends `error` and closes with `refusal.closeCode`. */
  readonly authenticate?: (
    hello: HelloEnvelope,
    connection: ServerConnection,
  ) => Refusal | null | Promise<Refusal | null>;
  /** Per-topic permission for `sub` and `pub`; a refusal answers with an `error` envelope (`ref` = pub id). */
  readonly authorize?: (
    operation: 'sub' | 'pub',
    topic: string,
    context: ProtocolContext,
  ) => OperationRefusal | null | Promise<OperationRefusal | null>;
  /**
   * Called once per client message id. Default: publish `data` to `topic` on the hub (a `pub` without
   * a topic is acknowledged and dropped). Throwing (or rejecting) answers with an `error` envelope
   * whose `ref` is the message id, instead of an `ack`.
   */
  readonly onPublish?: (event: PublishEvent) => void | Promise<void>;
  readonly sessions?: SessionStoreOptions;
  /** A connection must say hello within this time (default 10 s), else it is closed with HeartbeatTimeout. */
  readonly helloTimeoutMs?: number;
  /** Outgoing queue per connection; when over either bound the connection is closed with SlowConsumer (4008). */
  readonly outgoing?: { readonly maxMessages?: number; readonly maxBytes?: number };
  /** Incoming messages waiting for their turn (a slow `onPublish`); over it: close with TryAgainLater (1013). */
  readonly maxPendingIncoming?: number;
  /** Topics one connection may follow at once (default 256). */
  readonly maxSubscriptions?: number;
}

/** Counters for tests, metrics and the bench. */
export interface ProtocolStats {
  /** `pub` messages that repeated an id already applied (re-sent after a drop): acked, not re-applied. */
  duplicates: number;
  /** `pub` messages applied (the app callback ran). */
  applied: number;
  /** Connections closed because their outgoing queue overflowed. */
  slowConsumers: number;
}

export interface Protocol {
  readonly onConnection: ConnectionHandler;
  readonly stats: Readonly<ProtocolStats>;
  readonly sessions: SessionStore;
  readonly hub: Hub;
  readonly heartbeatMs: number;
  /** Connections that completed hello (for tests and metrics). */
  readonly activeConnections: number;
  /** Stops timers and forgets sessions; does not close the hub or the connections. */
  close(): void;
}

const MAX_TOPIC_LENGTH = 256;
const MAX_EARLY_MESSAGES = 64;

export function createProtocol(options: ProtocolOptions): Protocol {
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const sessions = new SessionStore(options.sessions);
  const live = new Set<ProtocolConnection>();
  const stats: ProtocolStats = { duplicates: 0, applied: 0, slowConsumers: 0 };
  const settings: Settings = {
    stats,
    hub: options.hub,
    heartbeatMs,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_LIMITS.maxMessageBytes,
    authenticate: options.authenticate,
    authorize: options.authorize,
    onPublish:
      options.onPublish ??
      (async (event) => {
        if (event.topic !== undefined) await options.hub.publish(event.topic, event.data);
      }),
    sessions,
    helloTimeoutMs: options.helloTimeoutMs ?? 10_000,
    maxOutMessages: options.outgoing?.maxMessages ?? 4096,
    maxOutBytes: options.outgoing?.maxBytes ?? 8 * 1024 * 1024,
    maxPendingIncoming: options.maxPendingIncoming ?? 1024,
    maxSubscriptions: options.maxSubscriptions ?? 256,
    live,
  };
  return {
    onConnection: (connection) => {
      new ProtocolConnection(connection, settings);
    },
    sessions,
    stats,
    hub: options.hub,
    heartbeatMs,
    get activeConnections() {
      return live.size;
    },
    close() {
      for (const c of [...live]) c.dispose();
      sessions.clear();
    },
  };
}

interface Settings {
  readonly stats: ProtocolStats;
  readonly hub: Hub;
  readonly heartbeatMs: number;
  readonly maxMessageBytes: number;
  readonly authenticate: ProtocolOptions['authenticate'];
  readonly authorize: ProtocolOptions['authorize'];
  readonly onPublish: (event: PublishEvent) => void | Promise<void>;
  readonly sessions: SessionStore;
  readonly helloTimeoutMs: number;
  readonly maxOutMessages: number;
  readonly maxOutBytes: number;
  readonly maxPendingIncoming: number;
  readonly maxSubscriptions: number;
  readonly live: Set<ProtocolConnection>;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

class ProtocolConnection {
  readonly #connection: ServerConnection;
  readonly #settings: Settings;
  #codec: Codec = codecs.json;
  #hello: HelloEnvelope | undefined;
  #session: Session | undefined;
  #closed = false;
  /** An error was sent and the close follows: nothing more is processed. */
  #failing = false;
  /** Set while hello is being authenticated, so nothing else is processed before it. */
  #helloPending = false;
  readonly #subscriptions = new Map<string, Promise<HubSubscription | undefined>>();
  // Outgoing queue: one pump sends in order and waits for the rung's backpressure.
  readonly #out: Payload[] = [];
  #outBytes = 0;
  #pumping = false;
  // Incoming work that must keep its order (sub, unsub, pub) runs on one chain.
  #chain: Promise<void> = Promise.resolve();
  #pendingIncoming = 0;
  #lastSeen = Date.now();
  /** Messages that arrived while hello was being authenticated. */
  readonly #early: Payload[] = [];
  readonly #timers: ReturnType<typeof setTimeout>[] = [];

  constructor(connection: ServerConnection, settings: Settings) {
    this.#connection = connection;
    this.#settings = settings;
    connection.on('message', (event) => this.#onPayload(event.data));
    connection.on('close', () => this.dispose());
    const helloTimer = setTimeout(() => {
      if (!this.#hello) this.#close(CloseCode.HeartbeatTimeout, 'no hello within the allowed time');
    }, settings.helloTimeoutMs);
    this.#timers.push(helloTimer);
    // The client pings every heartbeatMs; silence for over two intervals (plus slack for one late ping) means a dead path.
    const liveness = setInterval(
      () => {
        if (Date.now() - this.#lastSeen > settings.heartbeatMs * 2.5) {
          this.#close(
            CloseCode.HeartbeatTimeout,
            'no message from the client within two heartbeat intervals',
          );
        }
      },
      Math.max(10, Math.floor(settings.heartbeatMs / 2)),
    );
    this.#timers.push(liveness);
    for (const t of this.#timers) (t as { unref?: () => void }).unref?.();
    if (connection.state === 'closed') this.dispose();
  }

  /** A newer connection of the same session took this one's place. */
  replace(): void {
    this.#close(CloseCode.Replaced, 'a newer connection of this session took over');
  }

  dispose(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#settings.live.delete(this);
    for (const pending of this.#subscriptions.values()) void pending.then((s) => s?.unsubscribe());
    this.#subscriptions.clear();
    this.#out.length = 0;
    this.#outBytes = 0;
    if (this.#session) this.#settings.sessions.detach(this.#session, this);
  }

  #close(code: number, reason: string): void {
    if (this.#closed) return;
    this.dispose();
    try {
      this.#connection.close(code, reason);
    } catch {
      // Already closing: the rung reports its own close.
    }
  }

  #send(envelope: Envelope): void {
    if (this.#closed) return;
    const payload = this.#codec.encode(envelope);
    const bytes = payloadByteLength(payload);
    if (
      this.#out.length + 1 > this.#settings.maxOutMessages ||
      this.#outBytes + bytes > this.#settings.maxOutBytes
    ) {
      this.#settings.stats.slowConsumers++;
      this.#close(CloseCode.SlowConsumer, 'outgoing queue full: the client does not read fast enough');
      return;
    }
    this.#out.push(payload);
    this.#outBytes += bytes;
    if (!this.#pumping) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (!this.#closed && this.#out.length > 0) {
        const payload = this.#out.shift() as Payload;
        this.#outBytes -= payloadByteLength(payload);
        await this.#connection.send(payload);
      }
    } catch {
      // The rung closed under us; its close event disposes this connection.
    } finally {
      this.#pumping = false;
    }
  }

  #sendError(code: string, message: string, ref?: string): void {
    this.#send(ref === undefined ? { type: 'error', code, message } : { type: 'error', code, message, ref });
  }

  /** Sends an error envelope and then closes, giving the error a chance to arrive first. */
  #fail(closeCode: number, code: string, message: string): void {
    if (this.#closed) return;
    const payload = this.#codec.encode({ type: 'error', code, message });
    const close = () => this.#close(closeCode, message);
    // Stop processing at once; the close itself follows the error.
    this.#failing = true;
    this.#connection.send(payload).then(close, close);
  }

  #onPayload(payload: Payload): void {
    if (this.#closed || this.#failing) return;
    this.#lastSeen = Date.now();
    let envelope: Envelope;
    try {
      envelope = (typeof payload === 'string' ? codecs.json : codecs.msgpack).decode(payload);
    } catch (error) {
      const message = isSwitchyardError(error) ? error.message : describeError(error);
      this.#fail(CloseCode.BadEnvelope, 'ERR_INVALID_ENVELOPE', message);
      return;
    }
    if (!this.#hello) {
      if (this.#helloPending) {
        // Pipelined after hello (the client need not wait for welcome): kept, in order, until it is answered.
        if (this.#early.length >= MAX_EARLY_MESSAGES) {
          this.#fail(CloseCode.TryAgainLater, 'ERR_RATE_LIMITED', 'too many messages before welcome');
          return;
        }
        this.#early.push(payload);
        return;
      }
      if (envelope.type !== 'hello') {
        this.#fail(
          CloseCode.BadEnvelope,
          'ERR_INVALID_ENVELOPE',
          `expected hello first, got ${envelope.type}`,
        );
        return;
      }
      this.#codec = typeof payload === 'string' ? codecs.json : codecs.msgpack;
      void this.#onHello(envelope);
      return;
    }
    switch (envelope.type) {
      case 'ping':
        this.#send({ type: 'pong', id: envelope.id });
        return;
      case 'pong':
        return;
      case 'sub':
      case 'unsub':
      case 'pub':
        this.#enqueue(envelope);
        return;
      default:
        this.#fail(
          CloseCode.BadEnvelope,
          'ERR_INVALID_ENVELOPE',
          `unexpected ${envelope.type} from a client`,
        );
    }
  }

  async #onHello(hello: HelloEnvelope): Promise<void> {
    this.#helloPending = true;
    if (hello.v !== PROTOCOL_VERSION) {
      this.#fail(
        CloseCode.BadEnvelope,
        'ERR_INVALID_ENVELOPE',
        `hello.v: this server speaks protocol ${PROTOCOL_VERSION}, got ${hello.v}`,
      );
      return;
    }
    let refusal: Refusal | null = null;
    try {
      refusal = (await this.#settings.authenticate?.(hello, this.#connection)) ?? null;
    } catch (error) {
      refusal = {
        status: 500,
        closeCode: CloseCode.InternalError,
        code: 'ERR_INTERNAL',
        message: `authentication failed: ${describeError(error)}`,
      };
    }
    if (this.#closed) return;
    if (refusal) {
      this.#fail(refusal.closeCode, refusal.code, refusal.message);
      return;
    }
    const { session, resumed } = this.#settings.sessions.attach(hello.session, this);
    this.#session = session;
    this.#hello = hello;
    this.#helloPending = false;
    this.#settings.live.add(this);
    this.#send({
      type: 'welcome',
      session: session.id,
      heartbeatMs: this.#settings.heartbeatMs,
      maxMessageBytes: this.#settings.maxMessageBytes,
      resumed,
    });
    for (const payload of this.#early.splice(0)) this.#onPayload(payload);
  }

  #enqueue(envelope: Envelope): void {
    if (this.#pendingIncoming >= this.#settings.maxPendingIncoming) {
      this.#close(CloseCode.TryAgainLater, 'too many messages waiting to be processed');
      return;
    }
    this.#pendingIncoming++;
    this.#chain = this.#chain
      .then(() => (this.#closed ? undefined : this.#process(envelope)))
      .catch(() => undefined)
      .finally(() => {
        this.#pendingIncoming--;
      });
  }

  #context(): ProtocolContext {
    return {
      connection: this.#connection,
      session: this.#session as Session,
      hello: this.#hello as HelloEnvelope,
    };
  }

  async #process(envelope: Envelope): Promise<void> {
    switch (envelope.type) {
      case 'sub':
        return this.#subscribe(envelope.topic, envelope.since);
      case 'unsub': {
        const pending = this.#subscriptions.get(envelope.topic);
        this.#subscriptions.delete(envelope.topic);
        (await pending)?.unsubscribe();
        return;
      }
      case 'pub':
        return this.#publish(envelope);
      default:
        return;
    }
  }

  async #subscribe(topic: string, since: number | undefined): Promise<void> {
    if (topic.length === 0 || topic.length > MAX_TOPIC_LENGTH) {
      this.#sendError('ERR_INVALID_TOPIC', `sub.topic: expected 1-${MAX_TOPIC_LENGTH} characters`);
      return;
    }
    const previous = this.#subscriptions.get(topic);
    if (!previous && this.#subscriptions.size >= this.#settings.maxSubscriptions) {
      this.#sendError(
        'ERR_TOO_MANY_SUBSCRIPTIONS',
        `at most ${this.#settings.maxSubscriptions} topics per connection`,
      );
      return;
    }
    const refusal = await this.#settings.authorize?.('sub', topic, this.#context());
    if (refusal) {
      this.#sendError(refusal.code, refusal.message);
      return;
    }
    if (this.#closed) return;
    this.#subscriptions.delete(topic);
    (await previous)?.unsubscribe();
    const listener = (event: HubEvent) => {
      if (this.#closed) return;
      if (event.type === 'msg')
        this.#send({ type: 'msg', topic: event.topic, seq: event.seq, data: event.data });
      else this.#send({ type: 'reset', topic: event.topic, seq: event.seq, reason: event.reason });
    };
    const pending = this.#settings.hub.subscribe(topic, since, listener).then(
      (subscription) => {
        // Unsubscribed or closed while the hub was answering: let go at once.
        if (this.#closed || this.#subscriptions.get(topic) !== pending) {
          subscription.unsubscribe();
          return undefined;
        }
        return subscription;
      },
      (error: unknown) => {
        this.#sendError('ERR_HUB', `subscribe ${topic}: ${describeError(error)}`);
        return undefined;
      },
    );
    this.#subscriptions.set(topic, pending);
    await pending;
  }

  async #publish(envelope: PublishEnvelope): Promise<void> {
    const session = this.#session as Session;
    const context = this.#context();
    const { outcome, duplicate } = session.dedup(envelope.id, async (): Promise<PublishOutcome> => {
      this.#settings.stats.applied++;
      try {
        if (envelope.topic !== undefined) {
          if (envelope.topic.length === 0 || envelope.topic.length > MAX_TOPIC_LENGTH) {
            return {
              ok: false,
              code: 'ERR_INVALID_TOPIC',
              message: `pub.topic: expected 1-${MAX_TOPIC_LENGTH} characters`,
            };
          }
          const refusal = await this.#settings.authorize?.('pub', envelope.topic, context);
          if (refusal) return { ok: false, code: refusal.code, message: refusal.message };
        }
        await this.#settings.onPublish({
          ...context,
          id: envelope.id,
          topic: envelope.topic,
          data: envelope.data,
        });
        return { ok: true };
      } catch (error) {
        const code = isSwitchyardError(error) ? error.code : 'ERR_PUBLISH_FAILED';
        return { ok: false, code, message: describeError(error) };
      }
    });
    if (duplicate) this.#settings.stats.duplicates++;
    const result = await outcome;
    if (result.ok) this.#send({ type: 'ack', id: envelope.id });
    else this.#sendError(result.code, result.message, envelope.id);
  }
}
