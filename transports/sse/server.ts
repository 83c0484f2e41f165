/**
 * SSE + POST rung, server side: events down over one long-lived GET, messages up as batched POSTs to a
 * session-scoped URL. Runs wherever Hono runs (Node, Deno). The session, not the HTTP request, is the
 * connection: a dropped GET resumes with `Last-Event-ID` within a grace period, with nothing lost.
 * Wire format: docs/transports/sse.md.
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import { type Admission, type Refusal, refusalResponse } from '../../src/admission.ts';
import { CloseCode } from '../../src/close-codes.ts';
import { ConnectionCore, normalizeClose, waitForDrain } from '../../src/connection-core.ts';
import { SwitchyardError } from '../../src/errors.ts';
import type {
  ConnectionHandler,
  ConnectionRequest,
  Payload,
  SendOptions,
  ServerConnection,
  ServerConnectionEvents,
  ServerTransportLimits,
  TransportCapabilities,
  TransportState,
} from '../../src/transport.ts';
import { decodeBatch } from './batch.ts';
import { encodePayloadData, encodeSseComment, encodeSseEvent, SseEventName } from './encoder.ts';

export interface SseRoutesOptions {
  readonly onConnection: ConnectionHandler;
  readonly limits: ServerTransportLimits;
  readonly heartbeatMs: number;
  readonly admission: Admission;
  readonly connectionRequest: (c: Context) => ConnectionRequest;
  /** How long a session waits for its event stream to come back (`Last-Event-ID`). Default 15 s. */
  readonly resumeGraceMs?: number;
  /** Events kept for replay after a dropped stream, in bytes (at least the high-water mark). Default 2 MiB. */
  readonly replayBytes?: number;
  /** Comment heartbeat interval on the event stream; default min(heartbeatMs, 15 s). */
  readonly commentIntervalMs?: number;
}

/** Headers buffering proxies and CDNs need to pass events through at once and untouched. */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
  'Content-Encoding': 'identity',
};

/** Header carrying the session secret on upstream POSTs (never the URL: URLs end up in logs). */
export const SECRET_HEADER = 'authorization';
/** Header numbering upstream batches, so a retried POST is applied once. */
export const BATCH_HEADER = 'x-switchyard-batch';
/** Set on a refused event-stream request that was answered with a `close` event (EventSource cannot read statuses). */
export const REFUSAL_HEADER = 'x-switchyard-refusal';

const CAPABILITIES: TransportCapabilities = {
  datagrams: false,
  independentStreams: false,
  binary: false,
  upstream: 'post',
};

/** How long a closing session waits for a client that does not read before cutting the stream. */
const CLOSE_TIMEOUT_MS = 2000;

function randomToken(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  let text = '';
  for (const b of raw) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Compares secrets without an early exit, so timing does not reveal how much of a guess was right. */
function sameSecret(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

interface StoredEvent {
  readonly seq: number;
  readonly text: string;
}

class SseSession implements ServerConnection {
  readonly id = randomToken(16);
  readonly secret = randomToken(32);
  /** Proves ownership of the session when EventSource reconnects (it can only send `Last-Event-ID`). */
  readonly resumeKey = randomToken(16);
  readonly kind = 'sse' as const;
  readonly capabilities = CAPABILITIES;
  readonly request: ConnectionRequest;
  readonly #core = new ConnectionCore();
  readonly #limits: ServerTransportLimits;
  readonly #options: Required<Pick<SseRoutesOptions, 'resumeGraceMs' | 'replayBytes'>>;
  readonly #onGone: () => void;
  /** Sent and unsent events, oldest first; events up to `#writtenSeq` may be evicted past `replayBytes`. */
  #events: StoredEvent[] = [];
  #eventBytes = 0;
  #seq = 0;
  #writtenSeq = 0;
  #pendingBytes = 0;
  #stream: SSEStreamingApi | undefined;
  #streamEnded: (() => void) | undefined;
  #pumping = false;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  #closeEvent: string | undefined;
  #closing: { code: number; reason: string } | undefined;
  #closeWritten = false;
  lastBatch = 0;

  constructor(
    request: ConnectionRequest,
    limits: ServerTransportLimits,
    options: Required<Pick<SseRoutesOptions, 'resumeGraceMs' | 'replayBytes'>>,
    onGone: () => void,
  ) {
    this.request = request;
    this.#limits = limits;
    this.#options = options;
    this.#onGone = onGone;
    this.#core.markOpen();
  }

  get state(): TransportState {
    return this.#core.state;
  }

  get bufferedAmount(): number {
    return this.#pendingBytes;
  }

  /** Attaches an event stream; replays what came after `afterSeq`. Returns when the stream must end. */
  attach(stream: SSEStreamingApi, afterSeq: number | undefined): Promise<void> {
    this.#detach();
    if (this.#graceTimer) clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    this.#stream = stream;
    if (afterSeq !== undefined) {
      // Everything after `afterSeq` is unsent as far as this stream is concerned.
      this.#writtenSeq = afterSeq;
      this.#pendingBytes = 0;
      for (const event of this.#events) if (event.seq > afterSeq) this.#pendingBytes += event.text.length;
    }
    const ended = new Promise<void>((resolve) => {
      this.#streamEnded = resolve;
    });
    stream.onAbort(() => {
      if (this.#stream === stream) this.#lost();
    });
    this.#pump();
    return ended;
  }

  /** True when `afterSeq` can be replayed from what is still stored. */
  canResumeFrom(afterSeq: number): boolean {
    if (afterSeq > this.#seq) return false;
    const oldest = this.#events[0]?.seq ?? this.#seq + 1;
    return afterSeq >= oldest - 1;
  }

  writeComment(text: string): void {
    if (this.#stream && this.#pendingBytes === 0 && !this.#pumping)
      void this.#stream.write(encodeSseComment(text));
  }

  #lost(): void {
    this.#detach();
    if (this.#closing) this.#finish(this.#closing.code, this.#closing.reason, false);
    if (this.#core.state !== 'open') return;
    this.#graceTimer = setTimeout(() => {
      this.#finish(CloseCode.Abnormal, 'event stream lost and not resumed', false);
    }, this.#options.resumeGraceMs);
  }

  #detach(): void {
    const end = this.#streamEnded;
    this.#stream = undefined;
    this.#streamEnded = undefined;
    end?.();
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#stream) {
        const stream = this.#stream;
        const start = this.#events.findIndex((e) => e.seq > this.#writtenSeq);
        if (start < 0) {
          if (this.#closeEvent !== undefined && this.#closing && !this.#closeWritten) {
            this.#closeWritten = true;
            await stream.write(this.#closeEvent);
            this.#finish(this.#closing.code, this.#closing.reason, true);
          }
          break;
        }
        const batch = this.#events.slice(start, start + 256);
        const text = batch.length === 1 ? batch[0]!.text : batch.map((e) => e.text).join('');
        await stream.write(text);
        if (stream !== this.#stream || stream.aborted) break;
        const last = batch[batch.length - 1]!;
        if (last.seq > this.#writtenSeq) {
          this.#writtenSeq = last.seq;
          this.#pendingBytes = Math.max(0, this.#pendingBytes - text.length);
        }
        this.#evict();
      }
    } finally {
      this.#pumping = false;
    }
  }

  #evict(): void {
    let drop = 0;
    while (
      drop < this.#events.length &&
      this.#eventBytes > this.#options.replayBytes &&
      this.#events[drop]!.seq <= this.#writtenSeq
    ) {
      this.#eventBytes -= this.#events[drop]!.text.length;
      drop++;
    }
    if (drop > 0) this.#events = this.#events.slice(drop);
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
    const payload = encodePayloadData(channel, data);
    const seq = ++this.#seq;
    const text = encodeSseEvent({ event: payload.event, id: `${this.resumeKey}.${seq}`, data: payload.data });
    this.#events.push({ seq, text });
    this.#eventBytes += text.length;
    this.#pendingBytes += text.length;
    void this.#pump();
    return waitForDrain(
      () => this.#pendingBytes,
      this.#limits.highWaterMark,
      () => this.#core.state === 'closed',
    );
  }

  /** Queued events go out first, then the `close` event; a client that does not read is cut off after a bound. */
  close(code?: number, reason?: string): void {
    const normalized = normalizeClose(code, reason);
    if (this.#core.state !== 'open') return;
    this.#core.state = 'closing';
    this.#closing = normalized;
    this.#closeEvent = encodeSseEvent({ event: SseEventName.close, data: JSON.stringify(normalized) });
    if (!this.#stream) {
      this.#finish(normalized.code, normalized.reason, false);
      return;
    }
    void this.#pump();
    const timer = setTimeout(() => {
      this.#stream?.abort();
      this.#finish(normalized.code, normalized.reason, false);
    }, CLOSE_TIMEOUT_MS);
    (timer as { unref?: () => void }).unref?.();
  }

  #finish(code: number, reason: string, wasClean: boolean): void {
    if (this.#graceTimer) clearTimeout(this.#graceTimer);
    if (!this.#core.markClosed(code, reason, wasClean)) return;
    this.#onGone();
    const stream = this.#stream;
    const closeEvent = this.#closeEvent;
    if (stream && closeEvent && !this.#closeWritten) {
      this.#closeWritten = true;
      void stream.write(closeEvent).finally(() => this.#detach());
    } else this.#detach();
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

function errorJson(
  c: Context,
  status: 400 | 401 | 404 | 413,
  code: string,
  message: string,
  closeCode: number,
) {
  c.header('cache-control', 'no-store');
  return c.json({ error: code, message, closeCode }, status);
}

/** `streamSSE` with the proxy-proof headers (it sets its own `Cache-Control`, so they are applied after). */
function eventStream(c: Context, run: (stream: SSEStreamingApi) => Promise<void>): Response {
  const response = streamSSE(c, run);
  for (const [k, v] of Object.entries(SSE_HEADERS)) response.headers.set(k, v);
  return response;
}

export function createSseRoutes(options: SseRoutesOptions): Hono {
  const sessions = new Map<string, SseSession>();
  const byResumeKey = new Map<string, SseSession>();
  const settings = {
    resumeGraceMs: options.resumeGraceMs ?? 15_000,
    replayBytes: Math.max(options.replayBytes ?? 2 * 1024 * 1024, options.limits.highWaterMark),
  };
  const commentMs = options.commentIntervalMs ?? Math.min(options.heartbeatMs, 15_000);
  // A batch holds at least one maximal message; clients split larger bursts over several POSTs.
  const maxBatchBytes = Math.max(options.limits.maxMessageBytes + 128, 1024 * 1024);
  const app = new Hono();

  const heartbeat = setInterval(() => {
    for (const session of sessions.values()) session.writeComment('hb');
  }, commentMs);
  (heartbeat as { unref?: () => void }).unref?.();

  const refuseStream = (c: Context, refusal: Refusal) => {
    // EventSource cannot read an HTTP status; give it the close code as an event instead.
    if (!(c.req.header('accept') ?? '').includes('text/event-stream')) return refusalResponse(refusal);
    c.header(REFUSAL_HEADER, String(refusal.status));
    return eventStream(c, async (stream) => {
      await stream.write(
        encodeSseEvent({
          event: SseEventName.close,
          data: JSON.stringify({ code: refusal.closeCode, reason: refusal.message.slice(0, 120) }),
        }),
      );
    });
  };

  app.get('/', async (c) => {
    const request = options.connectionRequest(c);
    const refusal = await options.admission({
      request: c.req.raw,
      ip: request.ip,
      kind: 'sse',
      phase: 'connect',
    });
    if (refusal) return refuseStream(c, refusal);

    const lastEventId = c.req.header('last-event-id');
    let session: SseSession | undefined;
    let afterSeq: number | undefined;
    if (lastEventId) {
      const dot = lastEventId.lastIndexOf('.');
      const key = lastEventId.slice(0, dot);
      const seq = Number(lastEventId.slice(dot + 1));
      session = byResumeKey.get(key);
      if (!session || !Number.isSafeInteger(seq) || seq < 0 || !session.canResumeFrom(seq)) {
        return refuseStream(c, {
          status: 404,
          closeCode: CloseCode.UnknownSession,
          code: 'ERR_UNKNOWN_SESSION',
          message: 'session expired or events no longer available; open a new session',
        });
      }
      afterSeq = seq;
    }

    const isNew = !session;
    if (!session) {
      const created = new SseSession(request, options.limits, settings, () => {
        sessions.delete(created.id);
        byResumeKey.delete(created.resumeKey);
      });
      session = created;
      sessions.set(created.id, created);
      byResumeKey.set(created.resumeKey, created);
    }
    const attached = session;
    const postUrl = new URL(`${c.req.path.replace(/\/$/, '')}/${attached.id}`, c.req.url).href;
    return eventStream(c, async (stream) => {
      // An initial comment makes proxies flush headers at once; `retry` speeds up EventSource's reconnect.
      await stream.write(`: switchyard\nretry: 1000\n\n`);
      if (isNew) {
        await stream.write(
          encodeSseEvent({
            event: SseEventName.session,
            data: JSON.stringify({ id: attached.id, secret: attached.secret, postUrl }),
          }),
        );
        options.onConnection(attached);
      }
      await attached.attach(stream, afterSeq);
    });
  });

  app.post('/:session', async (c) => {
    const request = options.connectionRequest(c);
    const refusal = await options.admission({
      request: c.req.raw,
      ip: request.ip,
      kind: 'sse',
      phase: 'post',
    });
    if (refusal) return refusalResponse(refusal);
    const session = sessions.get(c.req.param('session'));
    if (!session) {
      return errorJson(
        c,
        404,
        'ERR_UNKNOWN_SESSION',
        'no such session (expired or closed)',
        CloseCode.UnknownSession,
      );
    }
    const auth = c.req.header(SECRET_HEADER) ?? '';
    const secret = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!sameSecret(secret, session.secret)) {
      return errorJson(c, 401, 'ERR_UNAUTHORIZED', 'wrong session secret', CloseCode.Unauthorized);
    }
    const batchNo = Number(c.req.header(BATCH_HEADER) ?? 'NaN');
    if (!Number.isSafeInteger(batchNo) || batchNo < 1) {
      return errorJson(
        c,
        400,
        'ERR_INVALID_FRAME',
        `${BATCH_HEADER} must be a positive integer`,
        CloseCode.ProtocolError,
      );
    }
    const body = await readBody(c.req.raw, maxBatchBytes);
    if (batchNo <= session.lastBatch) return c.body(null, 204); // a retry of a batch already applied
    if (body === null) {
      const error = new SwitchyardError('ERR_MESSAGE_TOO_BIG', `request body over ${maxBatchBytes} bytes`, {
        closeCode: CloseCode.MessageTooBig,
      });
      session.fail(error);
      return errorJson(c, 413, error.code, error.message, CloseCode.MessageTooBig);
    }
    let frames: ReturnType<typeof decodeBatch>;
    try {
      frames = decodeBatch(body, options.limits.maxMessageBytes);
    } catch (error) {
      if (!(error instanceof SwitchyardError)) throw error;
      session.fail(error);
      const status = error.code === 'ERR_MESSAGE_TOO_BIG' ? 413 : 400;
      return errorJson(c, status, error.code, error.message, error.closeCode ?? CloseCode.ProtocolError);
    }
    session.lastBatch = batchNo;
    for (const frame of frames) {
      if (frame.kind === 'close') {
        session.receiveClose(frame.code, frame.reason);
        break;
      }
      session.receive(frame.channel, frame.data);
    }
    return c.body(null, 204);
  });

  return app;
}
