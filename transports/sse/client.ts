/**
 * SSE + POST rung, client side: EventSource for events down (the platform one in browsers, the `eventsource`
 * package in Node via ./node.ts) and fetch POSTs up, with every send queued while a POST is in flight going
 * out together in the next one. This is the rung that survives proxies which strip `Upgrade` and networks
 * that block UDP, so it trades per-message cost for reach.
 */
import { CloseCode } from '../../src/close-codes.ts';
import { ConnectionCore, normalizeClose } from '../../src/connection-core.ts';
import { type ErrorCode, SwitchyardError } from '../../src/errors.ts';
import type {
  Payload,
  SendOptions,
  Transport,
  TransportConnectOptions,
  TransportEvents,
  TransportState,
} from '../../src/transport.ts';
import { DEFAULT_LIMITS } from '../../src/transport.ts';
import { payloadByteLength } from '../../src/utf8.ts';
import { type BatchFrame, encodeBatch, frameSize } from './batch.ts';
import { decodePayloadData, SSE_CAPABILITIES, SseEventName } from './encoder.ts';

/** The part of EventSource this adapter uses; browsers and the `eventsource` package satisfy it. */
export interface EventSourceLike {
  readonly readyState: number;
  addEventListener(
    type: string,
    listener: (event: { data?: unknown; code?: number; message?: string }) => void,
  ): void;
  close(): void;
}

export type EventSourceConstructor = new (url: string) => EventSourceLike;
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface SseTransportOptions extends TransportConnectOptions {
  /** Defaults to `globalThis.EventSource`. */
  readonly EventSource?: EventSourceConstructor;
  /** Defaults to `globalThis.fetch`. */
  readonly fetch?: FetchLike;
  /** Upper bound of one POST body; a single larger message still goes alone. Default 256 KiB. */
  readonly maxBatchBytes?: number;
  /** How long an interrupted event stream may take to resume before the transport closes. Default 10 s. */
  readonly resumeTimeoutMs?: number;
}

const EVENT_SOURCE_CLOSED = 2;
const POST_RETRIES = [100, 400, 1200];

/** Server error codes a refused POST may carry that are meaningful to the sender as they are. */
const POST_ERROR_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'ERR_MESSAGE_TOO_BIG',
  'ERR_INVALID_UTF8',
  'ERR_INVALID_FRAME',
  'ERR_UNAUTHORIZED',
  'ERR_FORBIDDEN_ORIGIN',
  'ERR_RATE_LIMITED',
]);

interface DrainWaiter {
  readonly resolve: () => void;
  readonly reject: (error: SwitchyardError) => void;
}

interface QueuedFrame {
  readonly frame: BatchFrame;
  readonly size: number;
}

/** Maps an HTTP refusal status (visible in Node only) to the close code the app can decide on. */
function closeCodeForStatus(status: number | undefined): number {
  switch (status) {
    case 401:
      return CloseCode.Unauthorized;
    case 403:
      return CloseCode.ForbiddenOrigin;
    case 404:
      return CloseCode.UnknownSession;
    case 429:
      return CloseCode.RateLimited;
    case 503:
      return CloseCode.TryAgainLater;
    default:
      return CloseCode.Abnormal;
  }
}

export class SseTransport implements Transport {
  readonly kind = 'sse' as const;
  readonly capabilities = SSE_CAPABILITIES;
  readonly #core = new ConnectionCore();
  readonly #source: EventSourceLike;
  readonly #fetch: FetchLike;
  readonly #maxMessageBytes: number;
  readonly #highWaterMark: number;
  readonly #maxBatchBytes: number;
  readonly #resumeTimeoutMs: number;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #url: string;
  /** Sends waiting for the queue to fall under the high-water mark; rejected with the error that ended the rung. */
  #waiters: DrainWaiter[] = [];
  #session: { id: string; secret: string; postUrl: string } | undefined;
  #queue: QueuedFrame[] = [];
  #queuedBytes = 0;
  #inFlightBytes = 0;
  #posting = false;
  #batchNo = 0;
  #flushScheduled = false;
  #closeRequested: { code: number; reason: string } | undefined;
  #resumeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: SseTransportOptions) {
    const Source =
      options.EventSource ?? (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
    const fetchImpl = options.fetch ?? (globalThis.fetch ? globalThis.fetch.bind(globalThis) : undefined);
    if (!Source || !fetchImpl)
      throw new SwitchyardError('ERR_UNSUPPORTED', 'SSE rung needs EventSource and fetch');
    this.#fetch = fetchImpl;
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_LIMITS.maxMessageBytes;
    this.#highWaterMark = options.highWaterMark ?? DEFAULT_LIMITS.highWaterMark;
    this.#maxBatchBytes = options.maxBatchBytes ?? 256 * 1024;
    this.#resumeTimeoutMs = options.resumeTimeoutMs ?? 10_000;
    this.#headers = options.headers ?? {};
    this.#url = options.url;
    const source = new Source(options.url);
    this.#source = source;
    source.addEventListener(SseEventName.session, (event) => this.#onSession(event.data));
    source.addEventListener(SseEventName.text, (event) => this.#onMessage(SseEventName.text, event.data));
    source.addEventListener(SseEventName.binary, (event) => this.#onMessage(SseEventName.binary, event.data));
    source.addEventListener(SseEventName.close, (event) => this.#onServerClose(event.data));
    source.addEventListener('open', () => {
      if (this.#resumeTimer) clearTimeout(this.#resumeTimer);
      this.#resumeTimer = undefined;
    });
    source.addEventListener('error', (event) => this.#onError(event.code));
  }

  get bufferedAmount(): number {
    return this.#buffered();
  }

  get state(): TransportState {
    return this.#core.state;
  }

  #onSession(data: unknown): void {
    if (this.#core.state !== 'connecting') return;
    try {
      const value = JSON.parse(String(data)) as { id?: unknown; secret?: unknown; postUrl?: unknown };
      if (
        typeof value.id !== 'string' ||
        typeof value.secret !== 'string' ||
        typeof value.postUrl !== 'string'
      ) {
        throw new Error('missing fields');
      }
      // The server sends the post URL relative to the stream URL (correct behind rewriting proxies).
      this.#session = { id: value.id, secret: value.secret, postUrl: new URL(value.postUrl, this.#url).href };
    } catch {
      this.#fail(
        new SwitchyardError('ERR_INVALID_FRAME', 'SSE session event is malformed'),
        CloseCode.ProtocolError,
      );
      return;
    }
    this.#core.markOpen();
  }

  #onMessage(event: string, data: unknown): void {
    if (this.#core.state === 'closed' || this.#core.state === 'connecting') return;
    let decoded: { channel: string; data: Payload };
    try {
      decoded = decodePayloadData(event, String(data));
    } catch (error) {
      if (!(error instanceof SwitchyardError)) throw error;
      this.#fail(error, CloseCode.ProtocolError);
      return;
    }
    this.#core.events.emit('message', { data: decoded.data, channel: decoded.channel, unreliable: false });
  }

  #onServerClose(data: unknown): void {
    if (this.#core.state === 'closed') return;
    let code: number = CloseCode.ProtocolError;
    let reason = 'malformed close event';
    try {
      const value = JSON.parse(String(data)) as { code?: unknown; reason?: unknown };
      if (typeof value.code === 'number') code = value.code;
      reason = typeof value.reason === 'string' ? value.reason : '';
    } catch {}
    this.#end(code, reason, true);
  }

  #onError(status: number | undefined): void {
    if (this.#core.state === 'closed') return;
    if (this.#core.state === 'connecting' || this.#source.readyState === EVENT_SOURCE_CLOSED) {
      // Never opened, or EventSource gave up (an HTTP error): the rung failed.
      this.#end(
        closeCodeForStatus(status),
        status ? `event stream refused (HTTP ${status})` : 'event stream failed',
        false,
      );
      return;
    }
    // EventSource is reconnecting with Last-Event-ID; the server replays. Bound how long that may take.
    this.#resumeTimer ??= setTimeout(() => {
      this.#end(CloseCode.Abnormal, 'event stream did not resume', false);
    }, this.#resumeTimeoutMs);
  }

  #fail(error: SwitchyardError, code: number): void {
    this.#core.emitError(error);
    if (this.#session) this.close(error.closeCode ?? code, error.message);
    else this.#end(error.closeCode ?? code, error.message, false);
  }

  #end(code: number, reason: string, wasClean: boolean, error?: SwitchyardError): void {
    if (this.#resumeTimer) clearTimeout(this.#resumeTimer);
    this.#source.close();
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#inFlightBytes = 0;
    if (!this.#core.markClosed(code, reason, wasClean)) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    const failure =
      error ??
      new SwitchyardError('ERR_CLOSED', `connection closed (${code}) before the send buffer drained`);
    for (const waiter of waiters) waiter.reject(failure);
  }

  #buffered(): number {
    return this.#queuedBytes + this.#inFlightBytes;
  }

  #releaseWaiters(): void {
    if (this.#waiters.length === 0 || this.#buffered() > this.#highWaterMark) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  send(data: Payload, options?: SendOptions): Promise<void> {
    let channel: string;
    let bytes: number;
    try {
      ({ channel, bytes } = this.#core.checkSend(data, options, this.#maxMessageBytes));
    } catch (error) {
      return Promise.reject(error);
    }
    if (options?.reliable === false && this.#buffered() > this.#highWaterMark) return Promise.resolve();
    this.#enqueue({ kind: 'message', channel, data }, frameSize(channel, bytes));
    if (this.#buffered() <= this.#highWaterMark) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #enqueue(frame: BatchFrame, size: number): void {
    this.#queue.push({ frame, size });
    this.#queuedBytes += size;
    if (this.#flushScheduled) return;
    // Sends made in the same tick share one POST.
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    if (this.#posting || !this.#session) return;
    this.#posting = true;
    try {
      while (this.#queue.length > 0 && this.#core.state !== 'closed') {
        let take = 0;
        let size = 0;
        while (
          take < this.#queue.length &&
          (take === 0 || size + this.#queue[take]!.size <= this.#maxBatchBytes)
        ) {
          size += this.#queue[take]!.size;
          take++;
        }
        const frames = this.#queue.splice(0, take).map((q) => q.frame);
        this.#queuedBytes -= size;
        this.#inFlightBytes = size;
        const delivered = await this.#post(encodeBatch(frames), ++this.#batchNo);
        if (!delivered) return;
        this.#inFlightBytes = 0;
        this.#releaseWaiters();
        const close = frames.find((f) => f.kind === 'close');
        if (close?.kind === 'close') this.#end(close.code, close.reason, true);
      }
    } finally {
      this.#posting = false;
    }
  }

  /** One batch, retried on network errors with the same number (the server applies it once). */
  async #post(body: Uint8Array, batchNo: number): Promise<boolean> {
    const session = this.#session!;
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.#fetch(session.postUrl, {
          method: 'POST',
          headers: {
            ...this.#headers,
            authorization: `Bearer ${session.secret}`,
            'content-type': 'application/octet-stream',
            'x-switchyard-batch': String(batchNo),
          },
          body: body as unknown as BodyInit,
        });
      } catch (cause) {
        if (this.#core.state === 'closed') return false;
        const delay = POST_RETRIES[attempt];
        if (delay === undefined) {
          const error = new SwitchyardError('ERR_TRANSPORT', 'upstream POST failed', {
            cause,
            closeCode: CloseCode.Abnormal,
          });
          this.#core.emitError(error);
          this.#end(CloseCode.Abnormal, 'upstream POST failed', false, error);
          return false;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
        continue;
      }
      if (response.ok) {
        await response.body?.cancel();
        return true;
      }
      let closeCode = closeCodeForStatus(response.status);
      let message = `upstream POST refused (HTTP ${response.status})`;
      let code: ErrorCode = 'ERR_TRANSPORT';
      try {
        const json = (await response.json()) as { closeCode?: unknown; message?: unknown; error?: unknown };
        if (typeof json.closeCode === 'number') closeCode = json.closeCode;
        if (typeof json.message === 'string') message = json.message;
        if (typeof json.error === 'string' && POST_ERROR_CODES.has(json.error))
          code = json.error as ErrorCode;
      } catch {}
      const error = new SwitchyardError(code, message, { closeCode });
      this.#core.emitError(error);
      // The server ended the session as it refused (its `close` event may arrive first; either way, once).
      this.#end(closeCode, message, true, error);
      return false;
    }
  }

  close(code?: number, reason?: string): void {
    const normalized = normalizeClose(code, reason);
    if (this.#core.state === 'closed' || this.#closeRequested) return;
    if (!this.#session) {
      this.#end(CloseCode.Abnormal, 'closed before the session opened', false);
      return;
    }
    this.#closeRequested = normalized;
    this.#core.state = 'closing';
    this.#enqueue(
      { kind: 'close', code: normalized.code, reason: normalized.reason },
      8 + payloadByteLength(normalized.reason),
    );
  }

  on<K extends keyof TransportEvents>(type: K, listener: (event: TransportEvents[K]) => void): () => void {
    return this.#core.events.on(type, listener);
  }
}

export function createSseTransport(options: SseTransportOptions): Transport {
  return new SseTransport(options);
}
