/**
 * The client's public shapes in one place: options, events, messages. Kept apart from the behaviour so that
 * docs, apps and tests can read the whole surface without reading how it works.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Codec } from '../codec.ts';
import type { SwitchyardError } from '../errors.ts';
import type { PresenceInfo, PresenceMember } from '../presence.ts';
import type { TransportKind } from '../transport.ts';
import type { BackoffOptions } from './backoff.ts';
import type { OutboxOptions } from './outbox.ts';
import type { RungMemory } from './rung-memory.ts';
import type { RungFactories } from './rungs.ts';

/** The `type` values of a discriminated-union message schema (for `client.handle`). */
export type TypeOf<In> = In extends { readonly type: infer T extends string } ? T : never;

export type ClientState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

export interface ClientOptions<In = unknown> {
  /** Base URL of the server; the client GETs `${url}/rt/negotiate`. */
  readonly url: string;
  /** Kind -> factory (`browserTransports` or `nodeTransports` from transports/). */
  readonly transports: RungFactories;
  /** Restricts and reorders the ladder (default: webtransport, websocket, sse). */
  readonly order?: readonly TransportKind[];
  /** Validates the `data` of every incoming message (reliable or not); a failure is an `error` event (ERR_VALIDATION). */
  readonly messages?: StandardSchemaV1<unknown, In>;
  /** Called before every connection round (and background climb); sent in `hello`. */
  readonly token?: () => string | Promise<string>;
  /**
   * Envelope codec: `jsonCodec` (default, text frames) or `msgpackCodec` from src/codec.ts (binary frames;
   * the server answers in the client's codec). Injected so that JSON-only bundles leave MessagePack out.
   */
  readonly codec?: Codec;
  /**
   * How long each rung runs alone before the next one starts in parallel (default 250 ms, see
   * docs/fallback.md); as long again from its `open` for its hello and ping. A failure starts the next at once.
   */
  readonly headStartMs?: number;
  /** Per-rung budget for open + hello/welcome + ping/pong, first round; doubles per failed round up to 8x. */
  readonly connectTimeoutMs?: Partial<Record<TransportKind, number>>;
  readonly negotiateTimeoutMs?: number;
  readonly backoff?: BackoffOptions;
  /** A shorter heartbeat than the server's (a dead peer is detected within two intervals); never longer. */
  readonly heartbeatMs?: number;
  /** Upstream buffer bounds and overflow policy for reliable publishes (see outbox.ts). */
  readonly buffer?: OutboxOptions;
  /**
   * Streams per direction that topics are spread over where the rung has independent streams (WebTransport
   * over HTTP/3): each of the first `lanes` topics gets a stream of its own, later ones share (default 16,
   * at most 64). 0 puts every topic on one ordered stream, as on WebSocket. Other rungs ignore it.
   */
  readonly lanes?: number;
  /**
   * Unreliable publishes are dropped while more than this many bytes wait in the rung's send buffer
   * (default 64 KiB): stale positions are worth less than fresh ones.
   */
  readonly volatileHighWaterMark?: number;
  /** Remember the working rung per origin (default: on, 10 min TTL, localStorage or memory). */
  readonly rememberRung?: false | { readonly ttlMs?: number; readonly memory?: RungMemory };
  /**
   * Background climb to a better rung (default: on). First probe `afterMs` after connecting below the top
   * (default 10 s), then doubling up to `maxMs` (default 5 min); each probe gets `timeoutMs` (default 5 s).
   */
  readonly climb?:
    | false
    | { readonly afterMs?: number; readonly maxMs?: number; readonly timeoutMs?: number };
  /** Connect at creation (default true); otherwise call `connect()`. */
  readonly autoConnect?: boolean;
  /** Extra headers where the runtime allows them (Node): negotiate request and rungs. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Injected fetch (default globalThis.fetch). */
  readonly fetch?: (input: string, init?: RequestInit) => Promise<Response>;
}

/**
 * A message on a subscribed topic. Reliable ones carry the topic's sequence number (in order, no gaps, no
 * duplicates across reconnects); unreliable ones carry none and may have been lost, or overtaken.
 */
export type ClientMessage<In = unknown> =
  | { readonly topic: string; readonly seq: number; readonly data: In; readonly reliable: true }
  | { readonly topic: string; readonly seq: undefined; readonly data: In; readonly reliable: false };

export interface ClientReset {
  readonly topic: string;
  /** The topic's new position: the next message has a higher seq. Re-sync the topic's state as of now. */
  readonly seq: number;
  readonly reason: string;
}

/** A client arrived on (`join`) or left (`leave`) a topic this client follows with `{ presence: true }`. */
export interface PresenceEvent {
  readonly action: 'join' | 'leave';
  readonly topic: string;
  readonly client: PresenceMember;
}

export interface SubscribeOptions {
  /** Resume after this sequence (with the `epoch` it belongs to). */
  readonly since?: number;
  readonly epoch?: string;
  /** Also follow the topic's presence: `presence` events for every join and leave (default false). */
  readonly presence?: boolean;
  /** This client's presence info on the topic: a plain object, at most 512 bytes as JSON. */
  readonly info?: PresenceInfo;
}

/** One try of one rung (or of `/rt/negotiate`), for logs, metrics and tests. */
export interface AttemptEvent {
  /** Increases with every attempt; events of superseded attempts are never acted upon. */
  readonly attempt: number;
  readonly kind: TransportKind | 'negotiate';
  /** `connect`: the foreground ladder; `climb`: a background probe of a better rung. */
  readonly purpose: 'connect' | 'climb';
  readonly ok: boolean;
  readonly elapsedMs: number;
  readonly error?: string;
  /**
   * Why a failed attempt failed: `timeout` (no working connection within the attempt's budget), `closed` (the
   * peer or the network closed it during the handshake), `error` (it could not be made: a refused request, a
   * failed load), `abandoned` (not the rung's fault: another rung won the race, or the client stopped).
   */
  readonly failure?: AttemptFailure;
}

export type AttemptFailure = 'timeout' | 'closed' | 'error' | 'abandoned';

export interface ClientEvents<In = unknown> {
  state: ClientState;
  attempt: AttemptEvent;
  /** The rung in use changed (null while not connected). */
  rung: TransportKind | null;
  message: ClientMessage<In>;
  reset: ClientReset;
  presence: PresenceEvent;
  error: SwitchyardError;
}

export interface Subscription {
  readonly topic: string;
  /** Highest sequence delivered (or the position set by a reset); undefined before the first. */
  readonly lastSeq: number | undefined;
  /**
   * The topic's epoch `lastSeq` belongs to (from the server). An app that stores a position to resume from
   * later stores this with it and passes both to `subscribe(topic, { since, epoch })`: should the topic's
   * history have been lost meanwhile, the server answers with a `reset` instead of a silent gap.
   */
  readonly epoch: string | undefined;
  unsubscribe(): void;
}

export interface PublishOptions {
  /**
   * `false`: unreliable (positions, cursors, typing indicators). No ack, no retry, no buffering while
   * offline, no history or resume: dropped when not connected or when the connection is backed up. A
   * datagram on WebTransport over HTTP/3 when it fits, else the topic's stream. Resolves once handed to the
   * rung or dropped (see `stats`). Default true.
   */
  readonly reliable?: boolean;
}

/** Counters of unreliable traffic (reliable traffic is accounted for by acks and sequence numbers). */
export interface ClientStats {
  /** Unreliable publishes handed to a rung. */
  readonly volatileSent: number;
  /** Unreliable publishes dropped: not connected, or the rung's buffer over `volatileHighWaterMark`. */
  readonly volatileDropped: number;
  /** Unreliable messages received on subscribed topics. */
  readonly volatileReceived: number;
}
