/**
 * SSE + POST rung, client side: EventSource for events down (the platform one in browsers, the `eventsource`
 * package in Node via ./node.ts) and fetch POSTs up, with every send queued while a POST is in flight going
 * out together in the next one. This is the rung that survives proxies which strip `Upgrade` and networks
 * that block UDP, so it trades per-message cost for reach.
 */
import { CloseCode } from '../../src/close-codes.ts';
import { ConnectionCore, normalizeClose, waitForDrain } from '../../src/connection-core.ts';
import { SwitchyardError } from '../../src/errors.ts';
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
import { payloadByteLength } from '../../src/utf8.ts';
import { type BatchFrame, encodeBatch, frameSize } from './batch.ts';
import { decodePayloadData, SseEventName } from './encoder.ts';

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

const CAPABILITIES: TransportCapabilities = {
  datagrams: false,
  independentStreams: false,
  binary: false,
  upstream: 'post',
};

const EVENT_SOURCE_CLOSED = 2;
const POST_RETRIES = [100, 400, 1200];

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
  readonly capabilities = CAPABILITIES;
  readonly #core = new ConnectionCore();
  readonly #source: EventSourceLike;
  readonly #fetch: FetchLike;
  readonly #maxMessageBytes: number;
  readonly #highWaterMark: number;
  readonly #maxBatchBytes: number;
  readonly #resumeTimeoutMs: number;
  readonly #headers: Readonly<Record<string, string>>;
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
      this.#session = { id: value.id, secret: value.secret, postUrl: value.postUrl };
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

  #end(code: number, reason: string, wasClean: boolean): void {
    if (this.#resumeTimer) clearTimeout(this.#resumeTimer);
    this.#source.close();
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#core.markClosed(code, reason, wasClean);
  }

  send(data: Payload, options?: SendOptions): Promise<void> {
    let channel: string;
    let bytes: number;
    try {
      ({ channel, bytes } = this.#core.checkSend(data, options, this.#maxMessageBytes));
    } catch (error) {
      return Promise.reject(error);
    }
    const buffered = () => this.#queuedBytes + this.#inFlightBytes;
    if (options?.reliable === false && buffered() > this.#highWaterMark) return Promise.resolve();
    this.#enqueue({ kind: 'message', channel, data }, frameSize(channel, bytes));
    return waitForDrain(buffered, this.#highWaterMark, () => this.#core.state === 'closed');
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
        this.#inFlightBytes = 0;
        if (!delivered) return;
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
          this.#core.emitError(new SwitchyardError('ERR_TRANSPORT', 'upstream POST failed', { cause }));
          this.#end(CloseCode.Abnormal, 'upstream POST failed', false);
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
      try {
        const json = (await response.json()) as { closeCode?: unknown; message?: unknown };
        if (typeof json.closeCode === 'number') closeCode = json.closeCode;
        if (typeof json.message === 'string') message = json.message;
      } catch {}
      this.#core.emitError(new SwitchyardError('ERR_TRANSPORT', message, { closeCode }));
      this.#end(closeCode, message, true);
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
