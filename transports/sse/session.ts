/**
 * One SSE session, the server-side connection of the SSE + POST rung: the queue of events towards the client,
 * the replay buffer a dropped stream resumes from (`Last-Event-ID`), and the backpressure a sender sees
 * (`bufferedAmount`, sends that wait for the pump to drain). Outlives any one event stream; the routes
 * (server.ts) create it and hand it streams. Wire format: docs/transports/sse.md.
 */
import { bytesToBase64url } from '../../src/base64.ts';
import { CloseCode } from '../../src/close-codes.ts';
import {
  type CloseWatchable,
  type CloseWatcher,
  ConnectionCore,
  normalizeClose,
  SENT,
  WATCH_CLOSE,
} from '../../src/connection-core.ts';
import { SwitchyardError } from '../../src/errors.ts';
import type {
  ConnectionRequest,
  Payload,
  SendOptions,
  ServerConnection,
  ServerConnectionEvents,
  ServerTransportLimits,
  TransportState,
} from '../../src/transport.ts';
import { type OutgoingPayload, Utf8Text } from '../../src/utf8-text.ts';
import {
  encodeMessageEvent,
  encodeSseComment,
  encodeSseEvent,
  SSE_CAPABILITIES,
  SseEventName,
} from './encoder.ts';
import type { EventSink, SinkOwner } from './sink.ts';

/** How long a closing session waits for a client that does not read before cutting the stream. */
const CLOSE_TIMEOUT_MS = 2000;
/** Events written to the stream in one `write()` at most (one syscall for a burst, bounded latency). */
const EVENTS_PER_WRITE = 256;

export function randomToken(bytes: number): string {
  return bytesToBase64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

interface StoredEvent {
  readonly text: string;
  /** UTF-8 size of `text`, what the socket will carry. */
  readonly bytes: number;
}

/** How long a session waits for its stream to come back, and how many bytes of events it keeps for replay. */
export interface SessionSettings {
  readonly resumeGraceMs: number;
  readonly replayBytes: number;
}

export class SseSession implements ServerConnection, SinkOwner, CloseWatchable {
  readonly id: string;
  /** 256 bits; authorises upstream POSTs. Sent once, in the `session` event, never in a URL. */
  readonly secret = randomToken(32);
  /**
   * 128 bits, the prefix of every event id: it proves ownership of the session when EventSource reconnects
   * (which can only send `Last-Event-ID`), so the POST secret never has to travel a second way.
   */
  readonly resumeKey = randomToken(16);
  readonly kind = 'sse' as const;
  readonly capabilities = SSE_CAPABILITIES;
  readonly request: ConnectionRequest;
  readonly #core = new ConnectionCore();
  readonly #limits: ServerTransportLimits;
  readonly #settings: SessionSettings;
  readonly #onGone: () => void;
  #watcher: CloseWatcher | undefined;
  /**
   * Stored events: `#events[#head]` has sequence `#firstSeq`, sequences are contiguous. Events up to
   * `#writtenSeq` were handed to the current stream and are kept for replay up to `replayBytes`.
   */
  #events: (StoredEvent | undefined)[] = [];
  #head = 0;
  #firstSeq = 1;
  #eventBytes = 0;
  #seq = 0;
  #writtenSeq = 0;
  /** Bytes not yet taken by the socket: queued events plus a write the sink has not drained yet. */
  #pendingBytes = 0;
  #sink: EventSink | undefined;
  /** The sink took a write it could not pass on at once (`#inflightBytes` of it): wait for `drained`. */
  #waiting = false;
  #inflightBytes = 0;
  /** A flush was asked of the sink and has not run yet (sends of one burst leave together). */
  #flushRequested = false;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  #closeEvent: string | undefined;
  #closing: { code: number; reason: string } | undefined;
  #closeWritten = false;
  /** Sends waiting for `bufferedAmount` to fall to the high-water mark; woken by the pump, not by polling. */
  #drainWaiters: { resolve: () => void; reject: (error: SwitchyardError) => void }[] | undefined;
  lastBatch = 0;

  constructor(
    request: ConnectionRequest,
    limits: ServerTransportLimits,
    settings: SessionSettings,
    onGone: () => void,
    nodeId?: string,
  ) {
    this.id = nodeId === undefined ? randomToken(16) : `${nodeId}.${randomToken(16)}`;
    this.request = request;
    this.#limits = limits;
    this.#settings = settings;
    this.#onGone = onGone;
    this.#core.markOpen();
  }

  get state(): TransportState {
    return this.#core.state;
  }

  get bufferedAmount(): number {
    return this.#pendingBytes;
  }

  /** The `close` event of a session that ended, kept so that a client resuming late still learns the code. */
  get closeEventText(): string | undefined {
    return this.#closeEvent;
  }

  /** Event id of the `session` event: resuming from it replays every message. */
  get sessionEventId(): string {
    return `${this.resumeKey}.0`;
  }

  /** Attaches an event stream and replays what came after `afterSeq`; the session ends the sink when done. */
  attach(sink: EventSink, afterSeq: number): void {
    const previous = this.#sink;
    this.#detach();
    // Cutting the old response also releases a write blocked on a dead socket.
    previous?.abort();
    if (this.#graceTimer) clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    this.#sink = sink;
    sink.owner = this;
    this.#writtenSeq = afterSeq;
    this.#pendingBytes = 0;
    for (let i = this.#indexOf(afterSeq + 1); i < this.#events.length; i++)
      this.#pendingBytes += this.#events[i]!.bytes;
    this.#releaseWaiters();
    // The client may have gone while the stream was being set up: `lost` would never come then.
    if (sink.aborted) this.#lost();
    else this.#pump();
  }

  /** True when everything after `afterSeq` is still stored. */
  canResumeFrom(afterSeq: number): boolean {
    return afterSeq <= this.#seq && afterSeq >= this.#firstSeq - 1;
  }

  writeComment(text: string): void {
    const sink = this.#sink;
    if (!sink || this.#pendingBytes !== 0 || this.#waiting || this.#flushRequested) return;
    if (!sink.write(encodeSseComment(text))) this.#waiting = true;
  }

  flush(): void {
    this.#flushRequested = false;
    this.#pump();
  }

  drained(sink: EventSink): void {
    if (sink !== this.#sink || !this.#waiting) return;
    this.#waiting = false;
    this.#pendingBytes = Math.max(0, this.#pendingBytes - this.#inflightBytes);
    this.#inflightBytes = 0;
    this.#evict();
    this.#releaseWaiters();
    this.#pump();
  }

  lost(sink: EventSink): void {
    if (sink === this.#sink) this.#lost();
  }

  #requestFlush(sink: EventSink): void {
    if (this.#waiting || this.#flushRequested) return;
    this.#flushRequested = true;
    sink.requestFlush();
  }

  #indexOf(seq: number): number {
    return this.#head + Math.max(0, seq - this.#firstSeq);
  }

  #lost(): void {
    this.#detach();
    if (this.#closing) this.#finish(this.#closing.code, this.#closing.reason, false);
    if (this.#core.state !== 'open') return;
    this.#graceTimer = setTimeout(() => {
      this.#finish(CloseCode.Abnormal, 'event stream lost and not resumed', false);
    }, this.#settings.resumeGraceMs);
  }

  #detach(): void {
    const sink = this.#sink;
    this.#sink = undefined;
    this.#waiting = false;
    this.#inflightBytes = 0;
    if (sink) {
      sink.owner = undefined;
      sink.end();
    }
  }

  /** Writes what is queued while the sink takes it; then the `close` event if the session is closing. */
  #pump(): void {
    const sink = this.#sink;
    if (!sink || this.#waiting || sink.aborted) return;
    for (;;) {
      const from = this.#indexOf(this.#writtenSeq + 1);
      if (from >= this.#events.length) {
        const closing = this.#closing;
        if (!closing || this.#closeEvent === undefined) return;
        if (!this.#closeWritten) {
          this.#closeWritten = true;
          if (!sink.write(this.#closeEvent)) {
            this.#waiting = true; // `drained` comes back here and finishes
            return;
          }
        }
        this.#finish(closing.code, closing.reason, true);
        return;
      }
      const to = Math.min(this.#events.length, from + EVENTS_PER_WRITE);
      let text = '';
      let bytes = 0;
      for (let i = from; i < to; i++) {
        const event = this.#events[i]!;
        text += event.text;
        bytes += event.bytes;
      }
      this.#writtenSeq = this.#firstSeq + (to - 1 - this.#head);
      if (!sink.write(text)) {
        // Taken, but the socket is behind: the bytes count as buffered until the sink drains.
        this.#waiting = true;
        this.#inflightBytes = bytes;
        return;
      }
      this.#pendingBytes = Math.max(0, this.#pendingBytes - bytes);
      this.#evict();
      this.#releaseWaiters();
      // A woken sender may have queued more and closed or replaced the stream meanwhile.
      if (this.#sink !== sink || this.#waiting || sink.aborted) return;
    }
  }

  #releaseWaiters(): void {
    const waiters = this.#drainWaiters;
    if (waiters === undefined || this.#pendingBytes > this.#limits.highWaterMark) return;
    this.#drainWaiters = undefined;
    for (const waiter of waiters) waiter.resolve();
  }

  /** Forgets written events beyond the replay budget, oldest first. */
  #evict(): void {
    while (this.#eventBytes > this.#settings.replayBytes && this.#firstSeq <= this.#writtenSeq) {
      this.#eventBytes -= this.#events[this.#head]!.bytes;
      this.#events[this.#head] = undefined;
      this.#head++;
      this.#firstSeq++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#events.length) {
      this.#events = this.#events.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Delivers one upstream message (already decoded and validated). */
  receive(channel: string, data: Payload): void {
    if (this.#core.state !== 'open') return;
    this.#core.events.emit('message', { data, channel, unreliable: false });
  }

  /** The client closed (close frame in a POST): answer with the same code, like a WebSocket close handshake. */
  receiveClose(code: number, reason: string): void {
    if (this.#core.state === 'closed') return;
    this.#closeEvent = encodeSseEvent({ event: SseEventName.close, data: JSON.stringify({ code, reason }) });
    this.#finish(code, reason, true);
  }

  /** Ends the session because the client broke a rule (oversize, malformed, invalid UTF-8). */
  fail(error: SwitchyardError): void {
    this.#core.emitError(error);
    this.close(error.closeCode ?? CloseCode.ProtocolError, error.message);
  }

  send(data: OutgoingPayload, options?: SendOptions): Promise<void> {
    let channel: string;
    try {
      channel = this.#core.checkSend(data, options, Number.POSITIVE_INFINITY).channel;
    } catch (error) {
      return Promise.reject(error);
    }
    if (options?.reliable === false && this.#pendingBytes > this.#limits.highWaterMark)
      return Promise.resolve();
    const seq = ++this.#seq;
    // An event's text is JSON-quoted here: bytes already UTF-8 save nothing, so a Utf8Text is read as text.
    const event = encodeMessageEvent(
      channel,
      data instanceof Utf8Text ? data.text() : data,
      `${this.resumeKey}.${seq}`,
    );
    this.#events.push(event);
    this.#eventBytes += event.bytes;
    this.#pendingBytes += event.bytes;
    const sink = this.#sink;
    if (sink) this.#requestFlush(sink);
    if (this.#pendingBytes <= this.#limits.highWaterMark) return SENT;
    return new Promise((resolve, reject) => {
      this.#drainWaiters ??= [];
      this.#drainWaiters.push({ resolve, reject });
    });
  }

  /** Queued events go out first, then the `close` event; a client that does not read is cut off after a bound. */
  close(code?: number, reason?: string): void {
    const normalized = normalizeClose(code, reason);
    if (this.#core.state !== 'open') return;
    this.#core.state = 'closing';
    this.#closing = normalized;
    this.#closeEvent = encodeSseEvent({ event: SseEventName.close, data: JSON.stringify(normalized) });
    const sink = this.#sink;
    if (!sink) {
      this.#finish(normalized.code, normalized.reason, false);
      return;
    }
    // Like a send: on Node after this tick, so that the answer to a POST that ends the session (413, 400)
    // is written before the close event that follows it.
    this.#requestFlush(sink);
    if (this.state === 'closed') return;
    const timer = setTimeout(() => {
      this.#sink?.abort();
      this.#finish(normalized.code, normalized.reason, false);
    }, CLOSE_TIMEOUT_MS);
    (timer as { unref?: () => void }).unref?.();
  }

  #finish(code: number, reason: string, wasClean: boolean): void {
    if (this.#graceTimer) clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    if (!this.#core.markClosed(code, reason, wasClean)) return;
    this.#onGone();
    this.#watcher?.connectionClosed(this);
    const waiters = this.#drainWaiters;
    this.#drainWaiters = undefined;
    if (waiters) {
      const error = new SwitchyardError('ERR_CLOSED', `connection closed (${code}) before its queue drained`);
      for (const waiter of waiters) waiter.reject(error);
    }
    this.#events = [];
    this.#eventBytes = 0;
    const sink = this.#sink;
    const closeEvent = this.#closeEvent;
    if (sink && closeEvent && !this.#closeWritten) {
      this.#closeWritten = true;
      sink.write(closeEvent);
    }
    // Ends the response after what was written (the close event included).
    this.#detach();
  }

  [WATCH_CLOSE](watcher: CloseWatcher): void {
    this.#watcher = watcher;
  }

  on<K extends keyof ServerConnectionEvents>(
    type: K,
    listener: (event: ServerConnectionEvents[K]) => void,
  ): () => void {
    return this.#core.events.on(type, listener);
  }
}
