/**
 * Where a session's events go. On Node (@hono/node-server) the event stream is written straight to the
 * `ServerResponse`: no WHATWG TransformStream, reader loop and promise per write between the session and the
 * socket. Elsewhere (Deno) it goes through hono's `streamSSE`. Both look the same to the session: `write`
 * takes the text and says whether to wait for `drained` before writing more.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import type { SSEStreamingApi } from 'hono/streaming';

/** What a sink reports to (the session holding it). Calls name the sink: a replaced sink is ignored. */
export interface SinkOwner {
  /** The burst asked for with `requestFlush` can go out now. */
  flush(): void;
  /** A write that returned false has left; the owner may write again. */
  drained(sink: EventSink): void;
  /** The client went away (not after `end`/`abort`). */
  lost(sink: EventSink): void;
}

export interface EventSink {
  /** True once the client went away or the sink was ended or aborted: writes are dropped. */
  readonly aborted: boolean;
  owner: SinkOwner | undefined;
  /** Takes `text` in any case; false: wait for `owner.drained(this)` before writing more. */
  write(text: string): boolean;
  /** Calls `owner.flush()` soon, once for the sends of one burst (they leave in one write). */
  requestFlush(): void;
  /** Ends the response after what was written. */
  end(): void;
  /** Cuts the response (a client that does not read, or a stream replaced by a resume). */
  abort(): void;
}

/**
 * Headers buffering proxies and CDNs need to pass events through at once and untouched. `Content-Encoding` is
 * deliberately absent: nothing on this path compresses (@hono/node-server does not), and a compressing proxy
 * must leave `no-transform` responses alone.
 */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
};

/** Headers of the event stream, the same on both paths (streamSSE's own plus the proxy-proof ones). */
export const EVENT_STREAM_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/event-stream',
  Connection: 'keep-alive',
  ...SSE_HEADERS,
};

interface NodeEnv {
  readonly incoming: IncomingMessage;
  readonly outgoing: ServerResponse;
}

/** The Node request and response under @hono/node-server (`c.env`), if this is Node. */
export function nodeEnv(c: Context): NodeEnv | undefined {
  const env = c.env as Partial<NodeEnv> | undefined;
  if (!env || typeof env !== 'object') return undefined;
  const { incoming, outgoing } = env;
  // HTTP/2 responses have no chunked framing to take raw writes the same way: they keep the WHATWG path.
  if (
    !incoming ||
    !outgoing ||
    typeof outgoing.writeHead !== 'function' ||
    typeof incoming.on !== 'function' ||
    incoming.httpVersionMajor !== 1
  )
    return undefined;
  return { incoming, outgoing };
}

/**
 * Tells @hono/node-server the response was written directly (it then leaves `outgoing` alone), like its own
 * `RESPONSE_ALREADY_SENT`. Its lightweight `Response` (the global one once it serves) is answered from the
 * fields it was built with, before the header is looked at; reading `type` turns it into a full Response.
 */
export function alreadySent(): Response {
  const response = new Response(null, { headers: { 'x-hono-already-sent': 'true' } });
  void response.type;
  return response;
}

/** Bytes in Node's buffer for a response up to which writing goes on (see `NodeEventSink.write`). */
const OUTGOING_LIMIT = 128 * 1024;

function pumpOwner(sink: NodeEventSink): void {
  sink.flushNow();
}

function drainedOwner(sink: NodeEventSink): void {
  sink.owner?.drained(sink);
}

/** The event stream written straight to a Node `ServerResponse`. */
export class NodeEventSink implements EventSink {
  owner: SinkOwner | undefined;
  readonly #res: ServerResponse;
  #ended = false;

  constructor(res: ServerResponse) {
    this.#res = res;
    res.writeHead(200, EVENT_STREAM_HEADERS);
    res.socket?.setNoDelay(true);
    // Refilled at once on 'drain' (continuing on setImmediate instead let the socket idle for a whole turn of
    // the event loop per chunk: 100 streams then moved 1-2k events/s). Other connections are not starved:
    // a refill stops at OUTGOING_LIMIT and the app's sends stop at the high-water mark.
    res.on('drain', () => drainedOwner(this));
    res.on('close', () => {
      if (!this.#ended) this.owner?.lost(this);
    });
  }

  get aborted(): boolean {
    return this.#ended || this.#res.destroyed || this.#res.writableEnded;
  }

  write(text: string): boolean {
    if (this.aborted) return true;
    // Over the socket's own 16 KiB mark Node asks to wait for 'drain', i.e. for its buffer to be empty; waiting
    // that long leaves the socket idle while the next chunk is built. Up to OUTGOING_LIMIT keeps it busy,
    // and bounds what sits in Node's buffer (bytes the session already counts as written).
    return this.#res.write(text) || this.#res.writableLength < OUTGOING_LIMIT;
  }

  requestFlush(): void {
    // After the current tick's microtasks: an app that awaits each (already resolved) send queues a whole
    // burst before it goes out, as one chunk of the response.
    process.nextTick(pumpOwner, this);
  }

  flushNow(): void {
    this.owner?.flush();
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (!this.#res.writableEnded && !this.#res.destroyed) this.#res.end();
  }

  abort(): void {
    if (this.#ended && this.#res.destroyed) return;
    this.#ended = true;
    this.#res.destroy();
  }
}

/** The event stream through hono's `streamSSE` (Deno, HTTP/2): each write is awaited before the next. */
export class WebEventSink implements EventSink {
  owner: SinkOwner | undefined;
  readonly #stream: SSEStreamingApi;
  readonly #done: () => void;
  #ended = false;
  readonly #written = () => this.owner?.drained(this);

  /** `done` ends the `streamSSE` callback, which closes the stream after what was written. */
  constructor(stream: SSEStreamingApi, done: () => void) {
    this.#stream = stream;
    this.#done = done;
    stream.onAbort(() => {
      if (!this.#ended) this.owner?.lost(this);
    });
  }

  get aborted(): boolean {
    return this.#ended || this.#stream.aborted;
  }

  write(text: string): boolean {
    if (this.aborted) return true;
    void this.#stream.write(text).then(this.#written);
    return false;
  }

  requestFlush(): void {
    this.owner?.flush();
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#done();
  }

  abort(): void {
    this.#ended = true;
    // Aborting cancels the response, which also releases a write blocked on a dead socket.
    this.#stream.abort();
    this.#done();
  }
}

/**
 * Reads a request body from the Node `IncomingMessage` up to `max` bytes; null when it is larger (the rest is
 * not buffered: @hono/node-server drains or closes what is left after the response).
 */
export function readNodeBody(incoming: IncomingMessage, max: number): Promise<Uint8Array | null> {
  const declared = Number(incoming.headers['content-length'] ?? '0');
  if (declared > max) return Promise.resolve(null);
  if (incoming.readableEnded) return Promise.reject(new Error('request body already read'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanup = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total > max) {
        cleanup();
        incoming.pause();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      if (incoming.readableEnded) onEnd();
      else reject(new Error('client closed the request before its body arrived'));
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}
