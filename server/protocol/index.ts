/**
 * The server half of the switchyard application protocol, as one `ConnectionHandler` for any rung:
 * hello -> welcome (session, resumed), ping -> pong, sub/unsub with resume from the hub's history,
 * pub -> session dedup -> app callback -> ack, `msg` fan-out with per-topic seq, `reset`, `error`, and
 * unreliable `vpub` / `vmsg` (no seq, no history, dropped rather than queued). Each topic travels on its own
 * lane where the rung has independent streams (connection.ts). Every queue is bounded: a connection that
 * cannot keep up is closed (SlowConsumer), one that floods is closed (TryAgainLater), and malformed input
 * closes with BadEnvelope (4004). See docs/protocol.md.
 */
import type { Refusal } from '../../src/admission.ts';
import type { HelloEnvelope } from '../../src/envelope.ts';
import { useStringScanner } from '../../src/json-bytes.ts';
import { simdScanner } from '../../src/json-simd.ts';
import { DEFAULT_MAX_LANES, MAX_LANES } from '../../src/lanes.ts';
import type { ConnectionHandler, ServerConnection } from '../../src/transport.ts';
import { DEFAULT_LIMITS } from '../../src/transport.ts';
import type { Hub } from '../hub/hub.ts';
import { MemoryPresence } from '../presence/memory.ts';
import type { PresenceStore } from '../presence/store.ts';
import { now, ProtocolConnection } from './connection.ts';
import type { OutgoingLimits } from './outgoing.ts';
import { MemorySessionStore, type Session, type SessionStore, type SessionStoreOptions } from './sessions.ts';

/** What hooks learn about the connection a message came from. */
export interface ProtocolContext {
  readonly connection: ServerConnection;
  readonly session: Session;
  readonly hello: HelloEnvelope;
  /** Who `authenticate` said this is (the token's subject), if it said; a presence member's `user`. */
  readonly user?: string;
}

/** What `authenticate` may answer instead of null when it lets a connection in: who it is. */
export interface Identity {
  readonly user: string;
}

/**
 * What `authorize` is asked: `sub` and `pub` per topic; `presence`: is this subscriber present on the topic
 * (a refusal turns presence off for it, silently); `presence-read`: may it see who is (the `presence` request,
 * and `join`/`leave` news with `sub.presence`; a refusal is its `error`).
 */
export type Operation = 'sub' | 'pub' | 'presence' | 'presence-read';

/** A client message for the app: reliable (`pub`, deduplicated by id, acked) or unreliable (`vpub`). */
export type PublishEvent = ProtocolContext &
  (
    | {
        readonly reliable: true;
        /** The client's message id (unique per session; duplicates never reach the callback within the dedup window). */
        readonly id: string;
        readonly topic: string | undefined;
        readonly data: unknown;
      }
    | {
        /** Unreliable: no id, no ack, no retry; the default handler fans it out with `hub.publishVolatile`. */
        readonly reliable: false;
        readonly id: undefined;
        readonly topic: string;
        readonly data: unknown;
      }
  );

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
  /**
   * Token check on the `hello` message; a refusal sends `error` and closes with `refusal.closeCode`. An
   * `Identity` lets the connection in as that user (`context.user`, presence members' `user`).
   */
  readonly authenticate?: (
    hello: HelloEnvelope,
    connection: ServerConnection,
  ) => Refusal | Identity | null | Promise<Refusal | Identity | null>;
  /**
   * Sees every `hello` before it is authenticated (metrics: the rung it came on, the rungs the client gave up
   * before it); must not throw or block.
   */
  readonly onHello?: (hello: HelloEnvelope, connection: ServerConnection) => void;
  /**
   * Per-topic permission (see `Operation`); a refusal answers with an `error` envelope (`ref` = pub id). A
   * method, so that a hook written for fewer operations (`'sub' | 'pub'`) still type-checks.
   */
  authorize?(
    operation: Operation,
    topic: string,
    context: ProtocolContext,
  ): OperationRefusal | null | Promise<OperationRefusal | null>;
  /** Who is on which topic: default one process's memory; `RedisPresence` for several nodes; false: none. */
  readonly presence?: PresenceStore | false;
  /**
   * Called once per client message id (and once per unreliable message). Default: publish `data` to `topic`
   * on the hub, reliably or volatile as the client sent it (a `pub` without a topic is acknowledged and
   * dropped). Throwing (or rejecting) answers with an `error` envelope whose `ref` is the message id,
   * instead of an `ack`. `data` is always a plain value: a large JSON `data`, which the default handler passes to
   * the hub as its bytes (a RawJson), is parsed for this hook (docs/protocol.md, "Large JSON messages").
   */
  readonly onPublish?: (event: PublishEvent) => void | Promise<void>;
  readonly sessions?: SessionStoreOptions;
  /** A shared session store (server/redis) instead of this process's memory; `sessions` is then ignored. */
  readonly sessionStore?: SessionStore;
  /** A connection must say hello within this time (default 10 s), else it is closed with HeartbeatTimeout. */
  readonly helloTimeoutMs?: number;
  /** Outgoing queue per connection; when over either bound the connection is closed with SlowConsumer (4008). */
  readonly outgoing?: { readonly maxMessages?: number; readonly maxBytes?: number };
  /** Incoming messages waiting for their turn (a slow `onPublish`); over it: close with TryAgainLater (1013). */
  readonly maxPendingIncoming?: number;
  /** Topics one connection may follow at once (default 256). */
  readonly maxSubscriptions?: number;
  /**
   * Streams per connection the server spreads topics over, where the rung has independent streams
   * (default 16, at most 64); a client may ask for fewer in `hello.lanes`. 0: every topic on one stream.
   */
  readonly maxLanes?: number;
  /**
   * Unreliable messages towards a connection are dropped while more than this many bytes wait for it
   * (in the rung's buffer plus the protocol's queue). Default 64 KiB.
   */
  readonly volatileHighWaterMark?: number;
}

/** Counters for tests, metrics and the bench. */
export interface ProtocolStats {
  /** `pub` messages that repeated an id already applied (re-sent after a drop): acked, not re-applied. */
  duplicates: number;
  /** `pub` messages applied (the app callback ran). */
  applied: number;
  /** Connections closed because their outgoing queue overflowed. */
  slowConsumers: number;
  /** Unreliable messages received from clients (`vpub`). */
  volatileReceived: number;
  /** Unreliable messages handed to a rung towards a client. */
  volatileSent: number;
  /** Unreliable messages dropped because the client was backed up. */
  volatileDropped: number;
}

export interface PublishOptions {
  /** `false`: to current subscribers only, no sequence, no history (default true). */
  readonly reliable?: boolean;
}

export interface Protocol {
  readonly onConnection: ConnectionHandler;
  readonly stats: Readonly<ProtocolStats>;
  readonly sessions: SessionStore;
  readonly hub: Hub;
  /** The presence store (undefined with `presence: false`), e.g. for the server API. */
  readonly presence: PresenceStore | undefined;
  readonly heartbeatMs: number;
  /** Connections that completed hello (for tests and metrics). */
  readonly activeConnections: number;
  /**
   * Publishes from the server side (app code, tickers): reliable resolves with the topic sequence number;
   * unreliable resolves with undefined once handed to the hub.
   */
  publish(topic: string, data: unknown, options?: PublishOptions): Promise<number | undefined>;
  /** Stops timers and forgets sessions; does not close the hub or the connections. */
  close(): void;
}

export function createProtocol(options: ProtocolOptions): Protocol {
  // Large JSON `data` is validated as bytes: long strings 16 bytes at a time where WebAssembly SIMD exists.
  useStringScanner(simdScanner());
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const sessions = options.sessionStore ?? new MemorySessionStore(options.sessions);
  // A count, not a Set: nothing iterates the connections past hello, and a Set entry is ~20 bytes each.
  const live = { size: 0 };
  const all = new Set<ProtocolConnection>();
  const stats: ProtocolStats = {
    duplicates: 0,
    applied: 0,
    slowConsumers: 0,
    volatileReceived: 0,
    volatileSent: 0,
    volatileDropped: 0,
  };
  const presence = options.presence === false ? undefined : (options.presence ?? new MemoryPresence());
  const settings: Settings = {
    stats,
    hub: options.hub,
    presence,
    heartbeatMs,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_LIMITS.maxMessageBytes,
    authenticate: observeHello(options.onHello, options.authenticate),
    authorize: options.authorize,
    onPublish: options.onPublish,
    // The default publish carries its own idempotency key: a shared session store need not claim first.
    idempotentPublish: options.onPublish === undefined,
    sessions,
    helloTimeoutMs: options.helloTimeoutMs ?? 10_000,
    outgoingLimits: {
      maxMessages: options.outgoing?.maxMessages ?? 4096,
      maxBytes: options.outgoing?.maxBytes ?? 8 * 1024 * 1024,
    },
    maxPendingIncoming: options.maxPendingIncoming ?? 1024,
    maxSubscriptions: options.maxSubscriptions ?? 256,
    maxLanes: Math.max(0, Math.min(MAX_LANES, options.maxLanes ?? DEFAULT_MAX_LANES)),
    volatileHighWaterMark: options.volatileHighWaterMark ?? 64 * 1024,
    live,
    all,
  };
  // One timer for every connection (hello deadlines, silence), instead of two per connection.
  const sweep = setInterval(
    () => {
      const at = now();
      for (const connection of all) connection.sweep(at);
    },
    Math.max(10, Math.floor(Math.min(heartbeatMs, settings.helloTimeoutMs) / 2)),
  );
  (sweep as { unref?: () => void }).unref?.();
  return {
    onConnection: (connection) => {
      new ProtocolConnection(connection, settings);
    },
    sessions,
    stats,
    hub: options.hub,
    presence,
    heartbeatMs,
    get activeConnections() {
      return live.size;
    },
    async publish(topic, data, publishOptions) {
      if (publishOptions?.reliable === false) {
        await options.hub.publishVolatile(topic, data);
        return undefined;
      }
      return options.hub.publish(topic, data);
    },
    close() {
      clearInterval(sweep);
      for (const c of [...all]) c.dispose();
      sessions.clear();
    },
  };
}

/** The hello hook runs where every hello passes anyway: just before authentication. */
function observeHello(
  observe: ProtocolOptions['onHello'],
  authenticate: ProtocolOptions['authenticate'],
): ProtocolOptions['authenticate'] {
  if (!observe) return authenticate;
  return (hello, connection) => {
    observe(hello, connection);
    return authenticate ? authenticate(hello, connection) : null;
  };
}

/** What every connection of one protocol instance shares (internal to server/protocol). */
export interface Settings {
  readonly stats: ProtocolStats;
  readonly hub: Hub;
  readonly presence: PresenceStore | undefined;
  readonly heartbeatMs: number;
  readonly maxMessageBytes: number;
  readonly authenticate: ProtocolOptions['authenticate'];
  readonly authorize: ProtocolOptions['authorize'];
  /**
   * The app's hook; undefined for the default, which the connection runs itself: publish to the hub as the client
   * sent it, without building the event object a hook would get.
   */
  readonly onPublish: ((event: PublishEvent) => void | Promise<void>) | undefined;
  readonly idempotentPublish: boolean;
  readonly sessions: SessionStore;
  readonly helloTimeoutMs: number;
  /** One object for every connection's outgoing queue. */
  readonly outgoingLimits: OutgoingLimits;
  readonly maxPendingIncoming: number;
  readonly maxSubscriptions: number;
  readonly maxLanes: number;
  readonly volatileHighWaterMark: number;
  /** How many connections are past hello (each counts itself in at welcome and out on dispose). */
  readonly live: { size: number };
  /** Every open connection, for the sweep. */
  readonly all: Set<ProtocolConnection>;
}
