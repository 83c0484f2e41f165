/**
 * The contract every rung implements, client side (`Transport`) and server side (`ServerConnection`).
 * Everything above `transports/` talks to these two shapes only and never asks which rung it has;
 * differences between rungs are expressed as `capabilities`, never as branches on `kind`.
 */

import type { SwitchyardError } from './errors.ts';
import type { OutgoingPayload } from './utf8-text.ts';

export type TransportKind = 'webtransport' | 'websocket' | 'sse';

/** What crosses a transport: text or bytes. Text must be well-formed UTF-16 (it is sent as UTF-8). */
export type Payload = string | Uint8Array;

export interface TransportCapabilities {
  /** `send(..., { reliable: false })` really goes out unreliably (a datagram). */
  readonly datagrams: boolean;
  /** Channels are independent (no head-of-line blocking between them). */
  readonly independentStreams: boolean;
  /** Binary payloads travel as bytes (false: they are re-encoded, e.g. base64 on SSE, and cost more). */
  readonly binary: boolean;
  /** How client-to-server messages travel: on the same connection, or as HTTP POSTs. */
  readonly upstream: 'native' | 'post';
  /** Largest unreliable payload, when `datagrams` is true. */
  readonly maxDatagramBytes?: number;
}

/**
 * Channel names are short ASCII tokens so that every rung can frame them cheaply.
 * The empty string is the default channel.
 */
export const CHANNEL_PATTERN = /^[A-Za-z0-9._~-]{0,64}$/;
export const DEFAULT_CHANNEL = '';

export interface SendOptions {
  /** Logical channel; on WebTransport each channel is its own stream. Default: the default channel. */
  readonly channel?: string;
  /**
   * `false`: may be dropped. WebTransport sends a datagram; rungs without datagrams send it reliably
   * unless their outgoing buffer is over the high-water mark, in which case it is dropped as stale
   * (the promise still resolves: volatile data has no delivery guarantee).
   */
  readonly reliable?: boolean;
}

export type TransportState = 'connecting' | 'open' | 'closing' | 'closed';

export interface MessageEvent {
  /**
   * The receiver's to keep: a rung never writes to a buffer it handed over (the protocol keeps large `pub` data
   * as it arrived, in a topic's history). The conformance suite checks it for every rung.
   */
  readonly data: Payload;
  /**
   * For a text message, its UTF-8 bytes, where the rung received it as bytes and it is large (the Node WebSocket
   * rung, from 16 KiB on): `data` is then decoded only when read, and a reader that can work on the bytes (the
   * protocol's JSON codec) spares making a string of a large message. Valid UTF-8; do not change them.
   */
  readonly utf8?: Uint8Array;
  readonly channel: string;
  /** True when the payload arrived unreliably (a datagram). */
  readonly unreliable: boolean;
}

export interface CloseEvent {
  readonly code: number;
  readonly reason: string;
  /** True when a close handshake (or its rung's equivalent) was completed. */
  readonly wasClean: boolean;
}

export interface TransportEvents {
  open: undefined;
  message: MessageEvent;
  close: CloseEvent;
  error: SwitchyardError;
}

/** The client side of one connection over one rung. Single use: once closed, make a new one. */
export interface Transport {
  readonly kind: TransportKind;
  readonly capabilities: TransportCapabilities;
  readonly state: TransportState;
  /** Bytes queued towards the server and not yet handed to the network (drives dropping unreliable data). */
  readonly bufferedAmount: number;
  /**
   * Resolves when the data has been handed to the rung below its buffer threshold (backpressure);
   * rejects with a `SwitchyardError` (`ERR_NOT_OPEN`, `ERR_CLOSED`, `ERR_MESSAGE_TOO_BIG`, `ERR_DATAGRAM_TOO_BIG`, ...).
   */
  send(data: Payload, options?: SendOptions): Promise<void>;
  /** Starts the close handshake; `close` fires once, whoever closed. */
  close(code?: number, reason?: string): void;
  on<K extends keyof TransportEvents>(type: K, listener: (event: TransportEvents[K]) => void): () => void;
}

/** What every client adapter's factory accepts. Adapters add their own options on top. */
export interface TransportConnectOptions {
  readonly url: string;
  /** Largest message this side will send; larger ones reject with `ERR_MESSAGE_TOO_BIG`. */
  readonly maxMessageBytes?: number;
  /** `send()` waits while more than this many bytes are queued below. */
  readonly highWaterMark?: number;
  /** Headers where the runtime allows them (Node); browsers ignore this. */
  readonly headers?: Readonly<Record<string, string>>;
}

export type TransportFactory = (options: TransportConnectOptions) => Transport;

/** What the server knows about the request that opened a connection; the same fields on every rung. */
export interface ConnectionRequest {
  readonly url: string;
  readonly origin: string | null;
  /** Remote address as the runtime reports it. */
  readonly ip: string;
  /**
   * The request's headers, lower-case names. Without the WebSocket handshake's nonce (`sec-websocket-key`, which
   * only the handshake uses); equal descriptions may be one frozen object shared by several connections.
   */
  readonly headers: Readonly<Record<string, string>>;
}

export interface ServerConnectionEvents {
  message: MessageEvent;
  close: CloseEvent;
  error: SwitchyardError;
}

/** The server side of one connection, whatever the rung and runtime. */
export interface ServerConnection {
  /** Unique per process; not a secret. */
  readonly id: string;
  readonly kind: TransportKind;
  readonly capabilities: TransportCapabilities;
  readonly request: ConnectionRequest;
  readonly state: TransportState;
  /** Bytes queued towards this client and not yet handed to the network; drives the slow-consumer policy. */
  readonly bufferedAmount: number;
  /**
   * Like `ws` and Node's `socket.write`, a rung may hand a large Uint8Array to the network without copying it
   * (the WebSocket rung does from 16 KiB on): leave the bytes unchanged once they are sent. A `Utf8Text` is text
   * the server already has as UTF-8 (src/utf8-text.ts): it arrives as a text message, as a string would.
   */
  send(data: OutgoingPayload, options?: SendOptions): Promise<void>;
  close(code?: number, reason?: string): void;
  on<K extends keyof ServerConnectionEvents>(
    type: K,
    listener: (event: ServerConnectionEvents[K]) => void,
  ): () => void;
}

export type ConnectionHandler = (connection: ServerConnection) => void;

/** Limits every server adapter enforces the same way. */
export interface ServerTransportLimits {
  /** Largest message accepted from a client (bytes, after UTF-8 encoding for text). */
  readonly maxMessageBytes: number;
  /** `send()` on a ServerConnection waits while more than this is queued. */
  readonly highWaterMark: number;
}

export const DEFAULT_LIMITS: ServerTransportLimits = {
  maxMessageBytes: 1024 * 1024,
  highWaterMark: 1024 * 1024,
};
