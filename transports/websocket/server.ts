/**
 * WebSocket rung, server side, independent of the runtime: a binding (./server-node.ts for `ws`,
 * ./server-deno.ts for Deno) feeds raw frames in and supplies a `RawServerSocket` to write to.
 */
import { CloseCode } from '../../src/close-codes.ts';
import {
  type CloseWatchable,
  type CloseWatcher,
  ConnectionCore,
  normalizeClose,
  SENT,
  WATCH_CLOSE,
  waitForDrain,
} from '../../src/connection-core.ts';
import { SwitchyardError } from '../../src/errors.ts';
import { decodeBinaryFrame, decodeTextFrame } from '../../src/frame.ts';
import { LazyTextEvent } from '../../src/lazy-text-event.ts';
import type {
  ConnectionRequest,
  MessageEvent,
  Payload,
  SendOptions,
  ServerConnection,
  ServerConnectionEvents,
  ServerTransportLimits,
  TransportCapabilities,
  TransportState,
} from '../../src/transport.ts';
import { payloadByteLength } from '../../src/utf8.ts';
import { type OutgoingPayload, Utf8Text } from '../../src/utf8-text.ts';
import { WEBSOCKET_CAPABILITIES } from './client.ts';

/**
 * What a runtime binding must provide for one accepted socket. The binding frames the channel itself
 * (`encodeTextFrame` / `encodeBinaryFrame` of src/frame.ts) so that it can use what its runtime offers: the Node
 * binding encodes straight into a Buffer and reuses one framed Buffer for a fan-out of the same message.
 */
export interface RawServerSocket {
  readonly bufferedAmount: number;
  /** Sends `<channel>:<text>` as one text frame. */
  sendText(channel: string, text: string): void;
  /** The same for text given as UTF-8 pieces (a runtime that sends strings only uses `text.text()`). */
  sendUtf8Text(channel: string, text: Utf8Text): void;
  /** Sends `<u8 channel length><channel><bytes>` as one binary frame. */
  sendBinary(channel: string, bytes: Uint8Array): void;
  close(code: number, reason: string): void;
  /** Drop the TCP connection without a handshake (dead or hostile peers). */
  terminate(): void;
}

/** A decoded frame, or a text frame's event with its bytes (`receiveTextBytes`). */
type Received =
  | { data: Payload; channel: string; bytes?: number | undefined }
  | { event: MessageEvent; bytes: number };

/** 0x3a, the ":" after the channel of a text frame (src/frame.ts). */
const COLON = 58;

let nextId = 0;

/** How long a close handshake may take before the TCP connection is dropped. */
const CLOSE_HANDSHAKE_TIMEOUT_MS = 2000;

/** Exact size check without scanning every short string (a UTF-16 unit is at most 3 UTF-8 bytes). */
function exceeds(data: Payload, max: number): boolean {
  if (typeof data !== 'string') return data.byteLength > max;
  return data.length > max || (data.length * 3 > max && payloadByteLength(data) > max);
}

export class WebSocketServerConnection implements ServerConnection, CloseWatchable {
  readonly request: ConnectionRequest;
  /** The number in `id`: a small integer in the object, where the string would be 24 more bytes per connection. */
  readonly #serial = ++nextId;
  readonly #core = new ConnectionCore();
  readonly #socket: RawServerSocket;
  readonly #limits: ServerTransportLimits;
  #watcher: CloseWatcher | undefined;

  constructor(socket: RawServerSocket, request: ConnectionRequest, limits: ServerTransportLimits) {
    this.#socket = socket;
    this.request = request;
    this.#limits = limits;
    this.#core.markOpen();
  }

  /** Made on read (nothing on the server reads it per message): equal strings for the same connection. */
  get id(): string {
    return `ws-${this.#serial.toString(36)}`;
  }

  // The same for every connection: getters on the prototype, not two fields in each idle connection (16 bytes).
  get kind(): 'websocket' {
    return 'websocket';
  }

  get capabilities(): TransportCapabilities {
    return WEBSOCKET_CAPABILITIES;
  }

  get state(): TransportState {
    return this.#core.state;
  }

  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  /**
   * Called by the binding for every text frame (already UTF-8 validated by the runtime). `frameBytes`, the
   * frame's UTF-8 size where the binding knows it, spares counting the bytes of a large message again (a loop
   * over every character: a quarter of the server's CPU on a 1 MiB `pub`).
   */
  receiveText(text: string, frameBytes?: number): void {
    if (this.#core.state !== 'open') return;
    this.#dispatch(() => {
      const frame = decodeTextFrame(text);
      // The channel prefix is ASCII: as many bytes as characters.
      const bytes = frameBytes === undefined ? undefined : frameBytes - (text.length - frame.data.length);
      return { data: frame.data, channel: frame.channel, bytes };
    });
  }

  /**
   * Called by the binding for a (large) text frame it has as UTF-8 bytes, validated by the runtime: the message
   * event carries the bytes (`utf8`) and decodes its `data` only if someone reads it (src/transport.ts).
   */
  receiveTextBytes(frame: Uint8Array): void {
    if (this.#core.state !== 'open') return;
    this.#dispatch(() => {
      // The channel prefix is at most 64 ASCII bytes and a ':'; decodeTextFrame checks it (and its absence).
      const limit = Math.min(frame.byteLength, 66);
      let colon = 0;
      while (colon < limit && frame[colon] !== COLON) colon++;
      const prefix = String.fromCharCode(...frame.subarray(0, Math.min(colon + 1, limit)));
      const channel = decodeTextFrame(prefix).channel;
      const utf8 = frame.subarray(colon + 1);
      return { event: new LazyTextEvent(utf8, channel), bytes: utf8.byteLength };
    });
  }

  /** Called by the binding for every binary frame. */
  receiveBinary(bytes: Uint8Array): void {
    if (this.#core.state !== 'open') return;
    this.#dispatch(() => decodeBinaryFrame(bytes));
  }

  #dispatch(decode: () => Received): void {
    let frame: Received;
    try {
      frame = decode();
    } catch (error) {
      if (!(error instanceof SwitchyardError)) throw error;
      this.#core.emitError(error);
      this.close(error.closeCode ?? CloseCode.ProtocolError, error.message);
      return;
    }
    const max = this.#limits.maxMessageBytes;
    if ('event' in frame) {
      if (frame.bytes > max) this.#tooBig();
      else this.#core.events.emit('message', frame.event);
      return;
    }
    if (frame.bytes === undefined ? exceeds(frame.data, max) : frame.bytes > max) {
      this.#tooBig();
      return;
    }
    this.#core.events.emit('message', { data: frame.data, channel: frame.channel, unreliable: false });
  }

  #tooBig(): void {
    this.#core.emitError(
      new SwitchyardError('ERR_MESSAGE_TOO_BIG', `message over ${this.#limits.maxMessageBytes} bytes`, {
        closeCode: CloseCode.MessageTooBig,
      }),
    );
    this.close(CloseCode.MessageTooBig, 'message too big');
  }

  /** Called by the binding once, when the socket is gone. */
  receiveClose(code: number, reason: string, wasClean: boolean): void {
    this.#closed(code, reason, wasClean);
  }

  #closed(code: number, reason: string, wasClean: boolean): void {
    if (this.#core.markClosed(code, reason, wasClean)) this.#watcher?.connectionClosed(this);
  }

  [WATCH_CLOSE](watcher: CloseWatcher): void {
    this.#watcher = watcher;
  }

  send(data: OutgoingPayload, options?: SendOptions): Promise<void> {
    let channel: string;
    try {
      channel = this.#core.checkSend(data, options, Number.POSITIVE_INFINITY).channel;
    } catch (error) {
      return Promise.reject(error);
    }
    if (options?.reliable === false && this.#socket.bufferedAmount > this.#limits.highWaterMark) {
      return SENT;
    }
    if (typeof data === 'string') this.#socket.sendText(channel, data);
    else if (data instanceof Utf8Text) this.#socket.sendUtf8Text(channel, data);
    else this.#socket.sendBinary(channel, data);
    return waitForDrain(this, this.#limits.highWaterMark);
  }

  close(code?: number, reason?: string): void {
    const normalized = normalizeClose(code, reason);
    if (this.#core.state !== 'open') return;
    this.#core.state = 'closing';
    this.#socket.close(normalized.code, normalized.reason);
    // A peer that does not read (the slow consumer being closed) never completes the handshake: cut it.
    const timer = setTimeout(() => {
      if (this.#core.state !== 'closed') this.terminate(normalized.code, normalized.reason);
    }, CLOSE_HANDSHAKE_TIMEOUT_MS);
    (timer as { unref?: () => void }).unref?.();
  }

  /** Ends the connection without a handshake and reports `code` locally (e.g. HeartbeatTimeout). */
  terminate(code: number, reason: string): void {
    this.#socket.terminate();
    this.#closed(code, reason, false);
  }

  on<K extends keyof ServerConnectionEvents>(
    type: K,
    listener: (event: ServerConnectionEvents[K]) => void,
  ): () => void {
    return this.#core.events.on(type, listener);
  }
}
