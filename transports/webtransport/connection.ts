/**
 * One WebTransport session as a switchyard connection, for either side: the same code runs in the browser,
 * in Deno and in Node, as client (`Transport`) or server (`ServerConnection`), over anything shaped like
 * the W3C WebTransport session. Each channel has its own stream, so a stalled channel never holds up
 * another (no head-of-line blocking between channels); a control stream carries hello/ready and a close
 * that waits for every channel stream to finish, so data sent before close() is not cut off.
 * This file holds the session's life (start, the channel streams it reads and writes, close); the control
 * frames are in control.ts, unreliable datagrams in datagrams.ts.
 */
import { CloseCode } from '../../src/close-codes.ts';
import { ConnectionCore, normalizeClose, waitForDrain } from '../../src/connection-core.ts';
import { SwitchyardError } from '../../src/errors.ts';
import { LAZY_TEXT_MIN_BYTES, LazyTextEvent } from '../../src/lazy-text-event.ts';
import type {
  SendOptions,
  TransportCapabilities,
  TransportEvents,
  TransportState,
} from '../../src/transport.ts';
import { DEFAULT_CHANNEL } from '../../src/transport.ts';
import { decodeUtf8Strict, encodeUtf8, invalidUtf8 } from '../../src/utf8.ts';
import { type OutgoingPayload, Utf8Text } from '../../src/utf8-text.ts';
import { chunkReader } from './chunks.ts';
import { closeFrame, helloFrame, readControl, readyFrame } from './control.ts';
import type { DatagramSender } from './datagram-sender.ts';
import { datagramTooBig, FALLBACK_MAX_DATAGRAM, openDatagramSender, readDatagrams } from './datagrams.ts';
import {
  decodeChannelName,
  encodeDatagram,
  encodeFrame,
  type Frame,
  FrameReader,
  FrameType,
  invalid,
} from './framing.ts';

export interface BidirectionalStreamLike {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}

/** What this adapter needs of a session: browsers, Deno and @fails-components/webtransport all have it. */
export interface WebTransportSessionLike {
  readonly ready: Promise<unknown>;
  readonly closed: Promise<{ closeCode?: number; reason?: string } | undefined>;
  readonly incomingBidirectionalStreams: ReadableStream<BidirectionalStreamLike>;
  createBidirectionalStream(): Promise<BidirectionalStreamLike>;
  readonly datagrams: {
    readonly readable: ReadableStream<Uint8Array>;
    readonly writable: WritableStream<Uint8Array>;
    readonly maxDatagramSize?: number;
  };
  close(info?: { closeCode?: number; reason?: string }): void;
}

/** How long a closing side waits for the other's channel streams to finish before closing anyway. */
const DRAIN_TIMEOUT_MS = 2000;
/** How long the side that received CLOSE reads its channel streams to their end before reporting the close. */
const PEER_CLOSE_DRAIN_MS = 500;

export interface WebTransportConnectionOptions {
  readonly role: 'client' | 'server';
  /** `h3`: native QUIC (independent streams, unreliable datagrams); `h2`: WebTransport over HTTP/2 (one TCP connection). */
  readonly protocol: 'h3' | 'h2';
  readonly maxMessageBytes: number;
  readonly highWaterMark: number;
  /**
   * The runtime's own UTF-8 check, which makes no string (`buffer.isUtf8` in Node and Deno; docs/benchmarks.md,
   * ninth round, has what each costs). With it, a text frame of LAZY_TEXT_MIN_BYTES or more is handed over as its
   * validated bytes (MessageEvent.utf8) and decoded only if read; browsers have none and decode every frame.
   */
  readonly isUtf8?: (bytes: Uint8Array) => boolean;
}

type Writer = WritableStreamDefaultWriter<Uint8Array>;

export class WebTransportConnection {
  readonly kind = 'webtransport' as const;
  protected readonly core = new ConnectionCore();
  readonly #session: WebTransportSessionLike;
  readonly #options: WebTransportConnectionOptions;
  /** The stream each channel sends on: the one this side opened, or the peer's stream for that channel. */
  readonly #channelWriters = new Map<string, Promise<Writer>>();
  readonly #incoming = new Set<Promise<void>>();
  #control: Writer | undefined;
  #datagrams: DatagramSender | undefined;
  #buffered = 0;
  readonly #bufferedByChannel = new Map<string, number>();
  /** The close both sides know about (sent or received on the control stream). */
  #agreed: { code: number; reason: string } | undefined;
  #closing: Promise<void> | undefined;
  #onReady: (() => void) | undefined;

  constructor(
    session: WebTransportSessionLike,
    options: WebTransportConnectionOptions,
    onReady?: () => void,
  ) {
    this.#session = session;
    this.#options = options;
    this.#onReady = onReady;
    // Once a CLOSE was exchanged, its code is the outcome: a runtime may tear the connection down without
    // delivering its own close (the browser then reports "connection lost"), which must not turn a clean close
    // into 1006.
    session.closed.then(
      (info) =>
        this.#agreed
          ? this.#sessionEnded(this.#agreed.code, this.#agreed.reason, true)
          : this.#sessionEnded(info?.closeCode ?? CloseCode.Abnormal, info?.reason ?? '', true),
      (error: unknown) =>
        this.#agreed
          ? this.#sessionEnded(this.#agreed.code, this.#agreed.reason, true)
          : this.#sessionEnded(CloseCode.Abnormal, String((error as Error)?.message ?? error), false),
    );
    void this.#start();
  }

  /** Live: the datagram limit is only known once the QUIC handshake has settled the path. */
  get capabilities(): TransportCapabilities {
    return {
      datagrams: this.#options.protocol === 'h3',
      independentStreams: this.#options.protocol === 'h3',
      binary: true,
      upstream: 'native',
      // Largest payload on the default channel (the datagram header is 2 bytes plus the channel name).
      maxDatagramBytes: (this.#session.datagrams.maxDatagramSize ?? FALLBACK_MAX_DATAGRAM) - 2,
    };
  }

  get state(): TransportState {
    return this.core.state;
  }

  get bufferedAmount(): number {
    return this.#buffered;
  }

  async #start(): Promise<void> {
    try {
      await this.#session.ready;
      void this.#acceptStreams();
      void readDatagrams(this.#session, this.core);
      if (this.#options.role === 'client') {
        const control = await this.#session.createBidirectionalStream();
        this.#control = control.writable.getWriter();
        void this.#readStream(control.readable, true);
        await this.#control.write(helloFrame());
      }
    } catch (error) {
      this.#sessionEnded(
        CloseCode.Abnormal,
        `WebTransport session failed: ${(error as Error)?.message ?? error}`,
        false,
      );
    }
  }

  async #acceptStreams(): Promise<void> {
    const reader = this.#session.incomingBidirectionalStreams.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        const reading = this.#readStream(value.readable, false, value.writable);
        this.#incoming.add(reading);
        void reading.finally(() => this.#incoming.delete(reading));
      }
    } catch {
      // The session ended; `closed` reports how.
    }
  }

  /** Reads one stream to its end. The first frame says what it is: OPEN (a channel), HELLO or (client) READY. */
  async #readStream(
    readable: ReadableStream<Uint8Array>,
    isOwnControl: boolean,
    writable?: WritableStream<Uint8Array>,
    ownChannel?: string,
  ) {
    const frames = new FrameReader(this.#options.maxMessageBytes);
    const reader = chunkReader(readable);
    // On a stream this side opened for a channel, the peer answers with data frames only.
    let channel: string | undefined = ownChannel;
    let isControl = isOwnControl;
    try {
      for (;;) {
        const value = await reader.read();
        if (value === undefined) break;
        for (const frame of frames.push(value)) {
          if (isControl) {
            this.#onControl(frame);
            continue;
          }
          if (channel === undefined) {
            if (frame.type === FrameType.open) {
              channel = decodeChannelName(frame.payload);
              if (writable && !this.#channelWriters.has(channel)) {
                this.#channelWriters.set(channel, Promise.resolve(writable.getWriter()));
              }
              continue;
            }
            if (
              frame.type === FrameType.hello &&
              this.#options.role === 'server' &&
              writable &&
              !this.#control
            ) {
              isControl = true;
              this.#control = writable.getWriter();
              this.#onControl(frame);
              continue;
            }
            throw invalid('a stream must start with OPEN (or HELLO on the control stream)');
          }
          this.#onData(channel, frame);
        }
      }
      if (frames.pending > 0) throw invalid('stream ended in the middle of a frame');
    } catch (error) {
      if (error instanceof SwitchyardError) {
        this.core.emitError(error);
        this.close(error.closeCode ?? CloseCode.ProtocolError, error.message);
      }
      // Other errors: the stream was reset or the session ended; `closed` reports the session's fate.
    }
  }

  #onData(channel: string, frame: Frame): void {
    if (this.core.state !== 'open' && this.core.state !== 'closing') return;
    if (frame.type === FrameType.text) {
      const isUtf8 = this.#options.isUtf8;
      if (isUtf8 && frame.payload.byteLength >= LAZY_TEXT_MIN_BYTES) {
        if (!isUtf8(frame.payload)) throw invalidUtf8();
        this.core.events.emit('message', new LazyTextEvent(frame.payload, channel));
      } else {
        this.core.events.emit('message', {
          data: decodeUtf8Strict(frame.payload),
          channel,
          unreliable: false,
        });
      }
    } else if (frame.type === FrameType.binary) {
      this.core.events.emit('message', { data: frame.payload, channel, unreliable: false });
    } else throw invalid(`unexpected frame type ${frame.type} on a channel stream`);
  }

  #onControl(frame: Frame): void {
    const message = readControl(frame, this.#options.role);
    if (message.type === 'close') {
      void this.#peerClosed(message.code, message.reason);
      return;
    }
    if (message.type === 'hello') void this.#control!.write(readyFrame()).catch(() => {});
    this.#opened();
  }

  #opened(): void {
    if (this.core.markOpen()) {
      this.#onReady?.();
      this.#onReady = undefined;
    }
  }

  send(data: OutgoingPayload, options?: SendOptions): Promise<void> {
    let channel: string;
    try {
      channel = this.core.checkSend(data, options, this.#options.maxMessageBytes).channel;
    } catch (error) {
      return Promise.reject(error);
    }
    const type = typeof data === 'string' || data instanceof Utf8Text ? FrameType.text : FrameType.binary;
    if (options?.reliable === false) {
      if (this.capabilities.datagrams) {
        // Text travels as UTF-8; a datagram is small, so a Utf8Text's pieces are joined.
        const bytes =
          typeof data === 'string' ? encodeUtf8(data) : data instanceof Utf8Text ? data.bytes() : data;
        return this.#sendDatagram(type, channel, bytes);
      }
      // Over HTTP/2 a "datagram" would travel on the one reliable connection anyway: apply the volatile policy.
      if (this.#buffered > this.#options.highWaterMark) return Promise.resolve();
    }
    // A Utf8Text's pieces are UTF-8 already: encodeFrame copies them once, into the frame.
    const frame = encodeFrame(
      type,
      typeof data === 'string' ? encodeUtf8(data) : data instanceof Utf8Text ? data.parts : data,
    );
    const size = frame.byteLength;
    this.#buffered += size;
    this.#bufferedByChannel.set(channel, (this.#bufferedByChannel.get(channel) ?? 0) + size);
    const written = this.#writerFor(channel).then((writer) => writer.write(frame));
    const settled = () => {
      this.#buffered -= size;
      const left = (this.#bufferedByChannel.get(channel) ?? size) - size;
      if (left > 0) this.#bufferedByChannel.set(channel, left);
      else this.#bufferedByChannel.delete(channel);
    };
    written.then(settled, settled);
    // Backpressure per channel: a stream held up by loss or flow control must not stall the others' senders.
    return written.then(() => waitForDrain(this, this.#options.highWaterMark, channel));
  }

  /** Bytes sent on `channel` that its stream has not taken yet (channels drain independently). */
  bufferedAmountOn(channel: string): number {
    return this.#bufferedByChannel.get(channel) ?? 0;
  }

  #sendDatagram(type: number, channel: string, payload: Uint8Array): Promise<void> {
    const tooBig = datagramTooBig(this.#session, channel, payload.byteLength);
    if (tooBig) return Promise.reject(tooBig);
    this.#datagrams ??= openDatagramSender(this.#session);
    this.#datagrams.send(encodeDatagram(type, channel, payload));
    return Promise.resolve();
  }

  #writerFor(channel: string): Promise<Writer> {
    let writer = this.#channelWriters.get(channel);
    if (!writer) {
      writer = this.#session.createBidirectionalStream().then(async (stream) => {
        const w = stream.writable.getWriter();
        const reading = this.#readStream(stream.readable, false, undefined, channel);
        this.#incoming.add(reading);
        void reading.finally(() => this.#incoming.delete(reading));
        await w.write(encodeFrame(FrameType.open, encodeUtf8(channel === DEFAULT_CHANNEL ? '' : channel)));
        return w;
      });
      this.#channelWriters.set(channel, writer);
    }
    return writer;
  }

  /** Finishes every channel stream, then says CLOSE on the control stream and waits for the peer to end the session. */
  close(code?: number, reason?: string): void {
    const normalized = normalizeClose(code, reason);
    if (this.core.state === 'closed' || this.#closing) return;
    if (this.core.state === 'connecting') {
      this.#session.close({ closeCode: normalized.code, reason: normalized.reason });
      this.#sessionEnded(CloseCode.Abnormal, 'closed before the session was ready', false);
      return;
    }
    this.core.state = 'closing';
    this.#closing = (async () => {
      await this.#finishWriters();
      await this.#control?.write(closeFrame(normalized.code, normalized.reason)).catch(() => {});
      this.#agreed = normalized;
      const peerEnded = this.#session.closed.then(
        () => {},
        () => {},
      );
      await Promise.race([peerEnded, delay(DRAIN_TIMEOUT_MS)]);
      this.#session.close({ closeCode: normalized.code, reason: normalized.reason });
      this.#sessionEnded(normalized.code, normalized.reason, true);
    })();
  }

  async #peerClosed(code: number, reason: string): Promise<void> {
    if (this.#closing) return;
    this.core.state = 'closing';
    this.#agreed = { code, reason };
    this.#closing = (async () => {
      // The peer finished its channel streams before CLOSE; read them to their end so nothing is lost. Bounded
      // well below the closer's own wait, so that this side reports the code before the closer gives up.
      await Promise.race([Promise.all([...this.#incoming]), delay(PEER_CLOSE_DRAIN_MS)]);
      this.#sessionEnded(code, reason, true);
      await this.#finishWriters();
      this.#session.close({ closeCode: code, reason });
    })();
  }

  async #finishWriters(): Promise<void> {
    const writers = [...this.#channelWriters.values()];
    await Promise.race([
      Promise.all(writers.map((w) => w.then((writer) => writer.close()).catch(() => {}))),
      delay(DRAIN_TIMEOUT_MS),
    ]);
  }

  #sessionEnded(code: number, reason: string, wasClean: boolean): void {
    this.core.markClosed(code, reason, wasClean);
  }

  on<K extends keyof TransportEvents>(type: K, listener: (event: TransportEvents[K]) => void): () => void {
    return this.core.events.on(type, listener);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    (timer as { unref?: () => void }).unref?.();
  });
}
