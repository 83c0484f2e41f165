/**
 * WebSocket rung, client side, over any WHATWG-shaped WebSocket: the platform one in browsers and Deno,
 * `ws` in Node (see ./node.ts). All channels share the one ordered connection (framing in src/frame.ts).
 */
import { CloseCode } from '../../src/close-codes.ts';
import { ConnectionCore, normalizeClose, waitForDrain } from '../../src/connection-core.ts';
import { SwitchyardError } from '../../src/errors.ts';
import { decodeBinaryFrame, decodeTextFrame, encodeBinaryFrame, encodeTextFrame } from '../../src/frame.ts';
import type {
  Payload,
  SendOptions,
  Transport,
  TransportCapabilities,
  TransportConnectOptions,
  TransportEvents,
  TransportState,
} from '../../src/transport.ts';
import { DEFAULT_LIMITS } from '../../src/transport.ts';

/** The part of the WHATWG WebSocket this adapter uses; `ws` and every browser satisfy it. */
export interface WebSocketLike {
  binaryType: string;
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: string | ArrayBufferView | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(
    type: 'close',
    listener: (event: { code: number; reason: string; wasClean: boolean }) => void,
  ): void;
  addEventListener(type: 'error', listener: (event: unknown) => void): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface WebSocketTransportOptions extends TransportConnectOptions {
  /** Defaults to `globalThis.WebSocket`. */
  readonly WebSocket?: WebSocketConstructor;
}

/** What the rung can do, the same on both sides: one ordered connection, bytes as bytes. */
export const WEBSOCKET_CAPABILITIES: TransportCapabilities = {
  datagrams: false,
  independentStreams: false,
  binary: true,
  upstream: 'native',
};

export const WEBSOCKET_PROTOCOL = 'switchyard.v1';

export class WebSocketTransport implements Transport {
  readonly kind = 'websocket' as const;
  readonly capabilities = WEBSOCKET_CAPABILITIES;
  readonly #core = new ConnectionCore();
  readonly #socket: WebSocketLike;
  readonly #maxMessageBytes: number;
  readonly #highWaterMark: number;

  constructor(options: WebSocketTransportOptions) {
    const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Ctor)
      throw new SwitchyardError('ERR_UNSUPPORTED', 'no WebSocket implementation: pass options.WebSocket');
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_LIMITS.maxMessageBytes;
    this.#highWaterMark = options.highWaterMark ?? DEFAULT_LIMITS.highWaterMark;
    const socket = new Ctor(options.url, WEBSOCKET_PROTOCOL);
    // Browsers default to Blob, which would need an async read per message. (The Node wrapper in ./node.ts
    // hands out Buffers whatever this says.)
    socket.binaryType = 'arraybuffer';
    this.#socket = socket;
    socket.addEventListener('open', () => this.#core.markOpen());
    socket.addEventListener('message', (event) => this.#onMessage(event.data));
    socket.addEventListener('error', () => {
      this.#core.emitError(new SwitchyardError('ERR_TRANSPORT', 'WebSocket error'));
    });
    socket.addEventListener('close', (event) => {
      this.#core.markClosed(event.code || CloseCode.Abnormal, event.reason, event.wasClean);
    });
  }

  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  get state(): TransportState {
    return this.#core.state;
  }

  #onMessage(data: unknown): void {
    try {
      const frame =
        typeof data === 'string'
          ? decodeTextFrame(data)
          : decodeBinaryFrame(data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array));
      this.#core.events.emit('message', { data: frame.data, channel: frame.channel, unreliable: false });
    } catch (error) {
      if (error instanceof SwitchyardError) {
        this.#core.emitError(error);
        this.close(error.closeCode ?? CloseCode.ProtocolError, error.message);
      } else throw error;
    }
  }

  send(data: Payload, options?: SendOptions): Promise<void> {
    let channel: string;
    try {
      channel = this.#core.checkSend(data, options, this.#maxMessageBytes).channel;
    } catch (error) {
      return Promise.reject(error);
    }
    // Volatile data on a backed-up socket is stale by the time it would arrive: drop it (documented policy).
    if (options?.reliable === false && this.#socket.bufferedAmount > this.#highWaterMark)
      return Promise.resolve();
    this.#socket.send(
      typeof data === 'string' ? encodeTextFrame(channel, data) : encodeBinaryFrame(channel, data),
    );
    return waitForDrain(this, this.#highWaterMark);
  }

  close(code?: number, reason?: string): void {
    const normalized = normalizeClose(code, reason);
    if (this.#core.state === 'closed' || this.#core.state === 'closing') return;
    this.#core.state = 'closing';
    this.#socket.close(normalized.code, normalized.reason);
  }

  on<K extends keyof TransportEvents>(type: K, listener: (event: TransportEvents[K]) => void): () => void {
    return this.#core.events.on(type, listener);
  }
}

export function createWebSocketTransport(options: WebSocketTransportOptions): Transport {
  return new WebSocketTransport(options);
}
