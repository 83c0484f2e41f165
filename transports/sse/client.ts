/**
 * SSE + POST rung, client side: EventSource for events down (the platform one in browsers, the `eventsource`
 * package in Node via ./node.ts) and fetch POSTs up, with every send queued while a POST is in flight going
 * out together in the next one. This is the rung that survives proxies which strip `Upgrade` and networks
 * that block UDP, so it trades per-message cost for reach.
 */
import { CloseCode } from '../../src/close-codes.ts';
import { ConnectionCore, normalizeClose } from '../../src/connection-core.ts';
import { type ErrorCode, SwitchyardError } from '../../src/errors.ts';
import { invalidFrame } from '../../src/frame.ts';
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
/** Delays before re-sending a POST that failed on the network (the server applies a batch number once). */
const POST_RETRIES = [100, 400, 1200];

/** Server error codes a refused POST may carry that are meaningful to the sender as they are. */
const POST_ERROR_CODES: readonly string[] = [
  'ERR_MESSAGE_TOO_BIG',
  'ERR_INVALID_UTF8',
  'ERR_INVALID_FRAME',
  'ERR_UNAUTHORIZED',
  'ERR_FORBIDDEN_ORIGIN',
  'ERR_RATE_LIMITED',
] satisfies ErrorCode[];

/** The close code an HTTP refusal status (visible in Node only) stands for, so the app can decide on it. */
const STATUS_CLOSE_CODES: Readonly<Record<number, number>> = {
  401: CloseCode.Unauthorized,
  403: CloseCode.ForbiddenOrigin,
  404: CloseCode.UnknownSession,
  429: CloseCode.RateLimited,
  503: CloseCode.TryAgainLater,
};
const closeCodeForStatus = (status = 0) => STATUS_CLOSE_CODES[status] ?? CloseCode.Abnormal;

export class SseTransport implements Transport {
  readonly kind = 'sse' as const;
  readonly capabilities = SSE_CAPABILITIES;
  readonly #core = new ConnectionCore();
  readonly #source: EventSourceLike;
  readonly #fetch: FetchLike;
  readonly #url: string;
  readonly #headers: Readonly<Record<string, string>> | undefined;
  readonly #maxMessageBytes: number;
  readonly #highWaterMark: number;
  readonly #maxBatchBytes: number;
  readonly #resumeTimeoutMs: number;
  /** Sends waiting for the queue to fall under the high-water mark; rejected with the error that ended the rung. */
  #waiters: { resolve: () => void; reject: (error: SwitchyardError) => void }[] = [];
  #secret = '';
  #postUrl = '';
  #queue: { frame: BatchFrame; size: number }[] = [];
  #queuedBytes = 0;
  #inFlightBytes = 0;
  #posting = false;
  #batchNo = 0;
  #flushScheduled = false;
  #closeRequested = false;
  #resumeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: SseTransportOptions) {
    const Source =
      options.EventSource ?? (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
    const fetchImpl = options.fetch ?? globalThis.fetch?.bind(globalThis);
    if (!Source || !fetchImpl)
      throw new SwitchyardError('ERR_UNSUPPORTED', 'SSE rung needs EventSource and fetch');
    this.#fetch = fetchImpl;
    this.#url = options.url;
    this.#headers = options.headers;
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_LIMITS.maxMessageBytes;
    this.#highWaterMark = options.highWaterMark ?? DEFAULT_LIMITS.highWaterMark;
    this.#maxBatchBytes = options.maxBatchBytes ?? 256 * 1024;
    this.#resumeTimeoutMs = options.resumeTimeoutMs ?? 10_000;
    const source = new Source(options.url);
    this.#source = source;
    source.addEventListener(SseEventName.session, ({ data }) => this.#onSession(data));
    for (const name of [SseEventName.text, SseEventName.binary]) {
      source.addEventListener(name, ({ data }) => this.#onMessage(name, data));
    }
    source.addEventListener(SseEventName.close, ({ data }) => this.#onServerClose(data));
    source.addEventListener('open', () => {
      clearTimeout(this.#resumeTimer);
      this.#resumeTimer = undefined;
    });
    source.addEventListener('error', ({ code }) => this.#onError(code));
  }

  get bufferedAmount(): number {
    return this.#queuedBytes + this.#inFlightBytes;
  }

  get state(): TransportState {
    return this.#core.state;
  }

  #onSession(data: unknown): void {
    if (this.#core.state !== 'connecting') return;
    try {
      const { id, secret, postUrl } = JSON.parse(String(data));
      if (typeof id === 'string' && typeof secret === 'string' && typeof postUrl === 'string') {
        // The server sends the post URL relative to the stream URL (correct behind rewriting proxies).
        this.#postUrl = new URL(postUrl, this.#url).href;
        this.#secret = secret;
        this.#core.markOpen();
        return;
      }
    } catch {}
    this.#fail(invalidFrame('SSE session event is malformed'));
  }

  #onMessage(event: string, data: unknown): void {
    if (this.#core.state !== 'open' && this.#core.state !== 'closing') return;
    let decoded: { channel: string; data: Payload };
    try {
      decoded = decodePayloadData(event, String(data));
    } catch (error) {
      if (!(error instanceof SwitchyardError)) throw error;
      this.#fail(error);
      return;
    }
    this.#core.events.emit('message', { data: decoded.data, channel: decoded.channel, unreliable: false });
  }

  #onServerClose(data: unknown): void {
    let code: number = CloseCode.ProtocolError;
    let reason = 'malformed close event';
    try {
      const value = JSON.parse(String(data));
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
    this.#resumeTimer ??= setTimeout(
      () => this.#end(CloseCode.Abnormal, 'event stream did not resume', false),
      this.#resumeTimeoutMs,
    );
  }

  /** The server broke the rung's framing: report it and close (ProtocolError unless the error says otherwise). */
  #fail(error: SwitchyardError): void {
    this.#core.emitError(error);
    const code = error.closeCode ?? CloseCode.ProtocolError;
    if (this.#postUrl) this.close(code, error.message);
    else this.#end(code, error.message, false);
  }

  #end(code: number, reason: string, wasClean: boolean, error?: SwitchyardError): void {
    clearTimeout(this.#resumeTimer);
    this.#source.close();
    this.#queue = [];
    this.#queuedBytes = this.#inFlightBytes = 0;
    if (!this.#core.markClosed(code, reason, wasClean)) return;
    const failure =
      error ?? new SwitchyardError('ERR_CLOSED', `closed (${code}) before the send buffer drained`);
    for (const waiter of this.#waiters.splice(0)) waiter.reject(failure);
  }

  send(data: Payload, options?: SendOptions): Promise<void> {
    let channel: string;
    let bytes: number;
    try {
      ({ channel, bytes } = this.#core.checkSend(data, options, this.#maxMessageBytes));
    } catch (error) {
      return Promise.reject(error);
    }
    const full = () => this.bufferedAmount > this.#highWaterMark;
    // Volatile data on a backed-up rung is stale by the time it would arrive: drop it (documented policy).
    if (options?.reliable === false && full()) return Promise.resolve();
    this.#enqueue({ kind: 'message', channel, data }, frameSize(channel, bytes));
    return full()
      ? new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }))
      : Promise.resolve();
  }

  #enqueue(frame: BatchFrame, size: number): void {
    this.#queue.push({ frame, size });
    this.#queuedBytes += size;
    if (this.#flushScheduled) return;
    // Sends made in the same tick share one POST.
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  /** One POST in flight at a time; what queues meanwhile goes in the next, up to `maxBatchBytes` each. */
  async #flush(): Promise<void> {
    if (this.#posting || !this.#postUrl) return;
    this.#posting = true;
    try {
      await this.#postQueued();
    } finally {
      this.#posting = false;
    }
  }

  async #postQueued(): Promise<void> {
    while (this.#queue.length && this.#core.state !== 'closed') {
      let take = 0;
      let size = 0;
      for (const q of this.#queue) {
        if (take && size + q.size > this.#maxBatchBytes) break;
        size += q.size;
        take++;
      }
      const frames = this.#queue.splice(0, take).map((q) => q.frame);
      this.#queuedBytes -= size;
      this.#inFlightBytes = size;
      if (!(await this.#post(encodeBatch(frames), ++this.#batchNo))) return;
      this.#inFlightBytes = 0;
      if (this.#waiters.length && this.bufferedAmount <= this.#highWaterMark) {
        for (const waiter of this.#waiters.splice(0)) waiter.resolve();
      }
      const close = frames.find((f) => f.kind === 'close');
      if (close?.kind === 'close') this.#end(close.code, close.reason, true);
    }
  }

  /** One batch, retried on network errors with the same number (the server applies it once). */
  async #post(body: Uint8Array, batchNo: number): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.#fetch(this.#postUrl, {
          method: 'POST',
          headers: {
            ...this.#headers,
            authorization: `Bearer ${this.#secret}`,
            'content-type': 'application/octet-stream',
            'x-switchyard-batch': String(batchNo),
          },
          body: body as unknown as BodyInit,
        });
      } catch (cause) {
        if (this.#core.state === 'closed') return false;
        const delay = POST_RETRIES[attempt];
        if (delay === undefined) {
          this.#refused('ERR_TRANSPORT', CloseCode.Abnormal, 'upstream POST failed', false, cause);
          return false;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
        continue;
      }
      if (response.ok) {
        await response.body?.cancel();
        return true;
      }
      const json = (await response.json().catch(() => null)) ?? {};
      // The server ended the session as it refused (its `close` event may arrive first; either way, once).
      this.#refused(
        POST_ERROR_CODES.includes(json.error) ? json.error : 'ERR_TRANSPORT',
        typeof json.closeCode === 'number' ? json.closeCode : closeCodeForStatus(response.status),
        typeof json.message === 'string' ? json.message : `upstream POST refused (HTTP ${response.status})`,
        true,
      );
      return false;
    }
  }

  #refused(code: ErrorCode, closeCode: number, message: string, wasClean: boolean, cause?: unknown): void {
    const error = new SwitchyardError(code, message, { closeCode, cause });
    this.#core.emitError(error);
    this.#end(closeCode, message, wasClean, error);
  }

  close(code?: number, reason?: string): void {
    const normalized = normalizeClose(code, reason);
    if (this.#core.state === 'closed' || this.#closeRequested) return;
    if (!this.#postUrl) {
      this.#end(CloseCode.Abnormal, 'closed before the session opened', false);
      return;
    }
    this.#closeRequested = true;
    this.#core.state = 'closing';
    this.#enqueue({ kind: 'close', ...normalized }, 8 + payloadByteLength(normalized.reason));
  }

  on<K extends keyof TransportEvents>(type: K, listener: (event: TransportEvents[K]) => void): () => void {
    return this.#core.events.on(type, listener);
  }
}

export function createSseTransport(options: SseTransportOptions): Transport {
  return new SseTransport(options);
}
