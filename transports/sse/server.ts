/**
 * SSE + POST rung, server side: events down over one long-lived GET, messages up as batched POSTs to a
 * session-scoped URL. Runs wherever Hono runs (Node, Deno). The session, not the HTTP request, is the
 * connection: a dropped GET resumes with `Last-Event-ID` within a grace period, with nothing lost.
 * Wire format: docs/transports/sse.md.
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { type Admission, refusalResponse } from '../../src/admission.ts';
import { bytesToBase64url } from '../../src/base64.ts';
import { CloseCode } from '../../src/close-codes.ts';
import { ConnectionCore, normalizeClose, SENT } from '../../src/connection-core.ts';
import { SwitchyardError } from '../../src/errors.ts';
import type {
  ConnectionHandler,
  ConnectionRequest,
  Payload,
  SendOptions,
  ServerConnection,
  ServerConnectionEvents,
  ServerTransportLimits,
  TransportState,
} from '../../src/transport.ts';
import { decodeBatch } from './batch.ts';
import {
  encodeMessageEvent,
  encodeSseComment,
  encodeSseEvent,
  SSE_CAPABILITIES,
  SseEventName,
} from './encoder.ts';
import {
  batchResponse,
  ownerOf,
  refused,
  type SseBatchRequest,
  type SseBatchResult,
  type SseForwarder,
} from './forward.ts';
import {
  alreadySent,
  type EventSink,
  NodeEventSink,
  nodeEnv,
  readNodeBody,
  type SinkOwner,
  SSE_HEADERS,
  WebEventSink,
} from './sink.ts';

export interface SseRoutesOptions {
  readonly onConnection: ConnectionHandler;
  readonly limits: ServerTransportLimits;
  readonly heartbeatMs: number;
  readonly admission: Admission;
  readonly connectionRequest: (c: Context) => ConnectionRequest;
  /**
   * The client's address (what `connectionRequest(c).ip` says), for upstream POSTs: they need only that, and
   * copying every header per POST is a cost of its own. Default: `connectionRequest(c).ip`.
   */
  readonly remoteAddress?: (c: Context) => string;
  /** How long a session waits for its event stream to come back (`Last-Event-ID`). Default 15 s. */
  readonly resumeGraceMs?: number;
  /** Events kept for replay after a dropped stream, in bytes (at least the high-water mark). Default 2 MiB. */
  readonly replayBytes?: number;
  /** Comment heartbeat interval on the event stream; default min(heartbeatMs, 15 s). */
  readonly commentIntervalMs?: number;
  /**
   * Several server processes behind a balancer with no affinity: session ids name the node holding the event
   * stream, and a POST that lands on another node is handed to that one (server/redis forwards over Redis).
   */
  readonly forwarder?: SseForwarder;
}

export { SSE_HEADERS };

/** Header carrying the session secret on upstream POSTs (never the URL: URLs end up in logs). */
export const SECRET_HEADER = 'authorization';
/** Header numbering upstream batches, so a retried POST is applied once. */
export const BATCH_HEADER = 'x-switchyard-batch';

/** How long a closing session waits for a client that does not read before cutting the stream. */
const CLOSE_TIMEOUT_MS = 2000;
/** Events written to the stream in one `write()` at most (one syscall for a burst, bounded latency). */
const EVENTS_PER_WRITE = 256;

function randomToken(bytes: number): string {
  return bytesToBase64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** Compares secrets without an early exit, so timing does not reveal how much of a guess was right. */
function sameSecret(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

interface StoredEvent {
  readonly text: string;
  /** UTF-8 size of `text`, what the socket will carry. */
  readonly bytes: number;
}

type SessionSettings = Required<Pick<SseRoutesOptions, 'resumeGraceMs' | 'replayBytes'>>;

class SseSession implements ServerConnection, SinkOwner {
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

  send(data: Payload, options?: SendOptions): Promise<void> {
    let channel: string;
    try {
      channel = this.#core.checkSend(data, options, Number.POSITIVE_INFINITY).channel;
    } catch (error) {
      return Promise.reject(error);
    }
    if (options?.reliable === false && this.#pendingBytes > this.#limits.highWaterMark)
      return Promise.resolve();
    const seq = ++this.#seq;
    const event = encodeMessageEvent(channel, data, `${this.resumeKey}.${seq}`);
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

  on<K extends keyof ServerConnectionEvents>(
    type: K,
    listener: (event: ServerConnectionEvents[K]) => void,
  ): () => void {
    return this.#core.events.on(type, listener);
  }
}

/** Reads a request body up to `max` bytes; returns null when it is larger (without buffering the rest). */
async function readBody(request: Request, max: number): Promise<Uint8Array | null> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > max) return null;
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * Opens the event stream and runs `run` on it; the response ends when `run`'s sink is ended. On Node the
 * events are written straight to the `ServerResponse`; elsewhere through `streamSSE`, with the proxy-proof
 * headers (it sets its own `Cache-Control`, so they are applied after). Nothing here keeps `c` alive.
 */
function eventStream(c: Context, run: (sink: EventSink) => void): Response {
  const node = nodeEnv(c);
  if (node) {
    const sink = new NodeEventSink(node.outgoing);
    try {
      run(sink);
    } catch (error) {
      console.error(error);
      sink.end();
    }
    return alreadySent();
  }
  const response = streamSSE(
    c,
    (stream) =>
      new Promise<void>((resolve) => {
        run(new WebEventSink(stream, resolve));
      }),
  );
  for (const [k, v] of Object.entries(SSE_HEADERS)) response.headers.set(k, v);
  return response;
}

/** Writes one text and ends the stream (a tombstone or a refused resume). */
function writeAndEnd(text: string): (sink: EventSink) => void {
  return (sink) => {
    sink.write(text);
    sink.end();
  };
}

/** The post URL as a reference relative to the stream URL: right behind TLS-terminating and path-rewriting proxies. */
function relativePostUrl(requestUrl: string, sessionId: string): string {
  const path = new URL(requestUrl).pathname;
  return path.endsWith('/') ? sessionId : `${path.slice(path.lastIndexOf('/') + 1)}/${sessionId}`;
}

export function createSseRoutes(options: SseRoutesOptions): Hono {
  const sessions = new Map<string, SseSession>();
  const byResumeKey = new Map<string, SseSession>();
  const settings: SessionSettings = {
    resumeGraceMs: options.resumeGraceMs ?? 15_000,
    replayBytes: Math.max(options.replayBytes ?? 2 * 1024 * 1024, options.limits.highWaterMark),
  };
  const commentMs = options.commentIntervalMs ?? Math.min(options.heartbeatMs, 15_000);
  // A batch holds at least one maximal message; clients split larger bursts over several POSTs.
  const maxBatchBytes = Math.max(options.limits.maxMessageBytes + 128, 1024 * 1024);
  const app = new Hono();

  // One timer for all sessions, running only while there are any (a stopped server leaves none behind).
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  const addSession = (session: SseSession) => {
    sessions.set(session.id, session);
    byResumeKey.set(session.resumeKey, session);
    heartbeat ??= setInterval(() => {
      for (const s of sessions.values()) s.writeComment('hb');
    }, commentMs);
  };
  /**
   * Close events of ended sessions, by resume key, for one grace period: a client whose stream was down when
   * its session was closed (shutdown 1001, slow consumer 4008, ...) gets the real code on resume, not 4010.
   */
  const tombstones = new Map<string, string>();
  const removeSession = (session: SseSession) => {
    sessions.delete(session.id);
    byResumeKey.delete(session.resumeKey);
    const closeEvent = session.closeEventText;
    if (closeEvent !== undefined) {
      tombstones.set(session.resumeKey, closeEvent);
      const timer = setTimeout(() => tombstones.delete(session.resumeKey), settings.resumeGraceMs);
      (timer as { unref?: () => void }).unref?.();
    }
    if (sessions.size === 0 && heartbeat) {
      clearInterval(heartbeat);
      heartbeat = undefined;
    }
  };

  /** A resume that cannot be served: the client's EventSource is listening, so tell it with a `close` event. */
  const unknownSession = (c: Context) => {
    const reason = 'session expired or its events are no longer available; open a new session';
    if (!(c.req.header('accept') ?? '').includes('text/event-stream')) {
      return batchResponse(c, refused(404, 'ERR_UNKNOWN_SESSION', reason, CloseCode.UnknownSession));
    }
    return eventStream(
      c,
      writeAndEnd(
        encodeSseEvent({
          event: SseEventName.close,
          data: JSON.stringify({ code: CloseCode.UnknownSession, reason }),
        }),
      ),
    );
  };

  app.get('/', async (c) => {
    const request = options.connectionRequest(c);
    const lastEventId = c.req.header('last-event-id');
    // EventSource reconnects to the same URL, so a single-use token in it is spent: a resume is a request
    // within an existing session (proven by its resume key below, or refused with 4010), like a POST.
    const refusal = await options.admission({
      request: c.req.raw,
      ip: request.ip,
      kind: 'sse',
      phase: lastEventId ? 'post' : 'connect',
    });
    if (refusal) return refusalResponse(refusal);

    if (lastEventId) {
      const dot = lastEventId.lastIndexOf('.');
      const session = dot > 0 ? byResumeKey.get(lastEventId.slice(0, dot)) : undefined;
      const seqText = lastEventId.slice(dot + 1);
      const seq = /^\d{1,15}$/.test(seqText) ? Number(seqText) : -1;
      const tombstone = dot > 0 ? tombstones.get(lastEventId.slice(0, dot)) : undefined;
      if (tombstone !== undefined && (c.req.header('accept') ?? '').includes('text/event-stream')) {
        return eventStream(c, writeAndEnd(tombstone));
      }
      if (session?.state !== 'open') return unknownSession(c);
      if (!session.canResumeFrom(seq)) {
        // Events were lost for good: end the session so the app layer resyncs from its own history.
        session.close(CloseCode.UnknownSession, 'events after Last-Event-ID are no longer available');
        return unknownSession(c);
      }
      return eventStream(c, (sink) => {
        sink.write(`: switchyard resume\n\n`);
        session.attach(sink, seq);
      });
    }

    const session = new SseSession(
      request,
      options.limits,
      settings,
      () => removeSession(session),
      options.forwarder?.nodeId,
    );
    addSession(session);
    const postUrl = relativePostUrl(c.req.url, session.id);
    return eventStream(c, (sink) => {
      // An initial comment makes proxies flush headers at once; `retry` speeds up EventSource's reconnect.
      sink.write(
        `: switchyard\nretry: 1000\n\n${encodeSseEvent({
          event: SseEventName.session,
          id: session.sessionEventId,
          data: JSON.stringify({ id: session.id, secret: session.secret, postUrl }),
        })}`,
      );
      options.onConnection(session);
      session.attach(sink, 0);
    });
  });

  /** Everything about a batch that needs no body: session, secret, number (a retry is answered, not applied). */
  const admitBatch = (
    request: Omit<SseBatchRequest, 'body'>,
  ): SseBatchResult | { session: SseSession; batchNo: number } => {
    const session = sessions.get(request.session);
    if (!session) {
      return refused(
        404,
        'ERR_UNKNOWN_SESSION',
        'no such session (expired or closed)',
        CloseCode.UnknownSession,
      );
    }
    if (!sameSecret(request.secret, session.secret)) {
      return refused(401, 'ERR_UNAUTHORIZED', 'wrong session secret', CloseCode.Unauthorized);
    }
    const batchNo = Number(request.batch ?? 'NaN');
    if (!Number.isSafeInteger(batchNo) || batchNo < 1) {
      return refused(
        400,
        'ERR_INVALID_FRAME',
        `${BATCH_HEADER} must be a positive integer`,
        CloseCode.ProtocolError,
      );
    }
    return { session, batchNo };
  };

  const applyBatch = (session: SseSession, batchNo: number, body: Uint8Array | null): SseBatchResult => {
    if (batchNo <= session.lastBatch) return { status: 204 }; // a retry of a batch already applied
    if (body === null) {
      const error = new SwitchyardError('ERR_MESSAGE_TOO_BIG', `request body over ${maxBatchBytes} bytes`, {
        closeCode: CloseCode.MessageTooBig,
      });
      session.fail(error);
      return refused(413, error.code, error.message, CloseCode.MessageTooBig);
    }
    let frames: ReturnType<typeof decodeBatch>;
    try {
      frames = decodeBatch(body, options.limits.maxMessageBytes);
    } catch (error) {
      if (!(error instanceof SwitchyardError)) throw error;
      session.fail(error);
      const status = error.code === 'ERR_MESSAGE_TOO_BIG' ? 413 : 400;
      return refused(status, error.code, error.message, error.closeCode ?? CloseCode.ProtocolError);
    }
    session.lastBatch = batchNo;
    for (const frame of frames) {
      if (frame.kind === 'close') {
        session.receiveClose(frame.code, frame.reason);
        break;
      }
      session.receive(frame.channel, frame.data);
    }
    return { status: 204 };
  };

  // Batches other nodes received for sessions held here.
  options.forwarder?.serve((request) => {
    const admitted = admitBatch(request);
    return 'status' in admitted ? admitted : applyBatch(admitted.session, admitted.batchNo, request.body);
  });

  const remoteAddress = options.remoteAddress ?? ((c: Context) => options.connectionRequest(c).ip);
  /** On Node straight from the IncomingMessage (no WHATWG Request, AbortSignal and web stream per POST). */
  const body = (c: Context): Promise<Uint8Array | null> => {
    const node = nodeEnv(c);
    return node ? readNodeBody(node.incoming, maxBatchBytes) : readBody(c.req.raw, maxBatchBytes);
  };

  app.post('/:session', async (c) => {
    const refusal = await options.admission({
      request: c.req.raw,
      ip: remoteAddress(c),
      kind: 'sse',
      phase: 'post',
    });
    if (refusal) return refusalResponse(refusal);
    const auth = c.req.header(SECRET_HEADER) ?? '';
    const batch = {
      session: c.req.param('session'),
      secret: auth.startsWith('Bearer ') ? auth.slice(7) : '',
      batch: c.req.header(BATCH_HEADER),
    };
    const forwarder = options.forwarder;
    const owner = ownerOf(batch.session);
    if (forwarder && owner !== undefined && owner !== forwarder.nodeId) {
      // The stream is on another node: hand it the batch and answer with its answer (it keeps the order).
      return batchResponse(c, await forwarder.forward(owner, { ...batch, body: await body(c) }));
    }
    const admitted = admitBatch(batch);
    if ('status' in admitted) return batchResponse(c, admitted);
    return batchResponse(c, applyBatch(admitted.session, admitted.batchNo, await body(c)));
  });

  return app;
}
