/**
 * One load connection over SSE (+ POST): ours (the rung at /rt/sse, its batch format and session secret) or
 * the hand-written server (bench/servers/sse-raw.ts). Push connections count events the server streams;
 * echo connections keep one POST in flight and count a round trip once both its event and its 204 arrived.
 */
import type { SseSystem } from './messages.ts';
import {
  batchClose,
  batchText,
  type EventStream,
  openEventStream,
  Poster,
  parseSession,
  postRequest,
} from './sse-wire.ts';

export class SseConn {
  readonly errors: string[] = [];
  unexpected = 0;
  /** Called with the number of events (push) or completed round trips (echo) per chunk. */
  onReplies: (count: number) => void = () => {};
  readonly #stream: EventStream;
  readonly #poster: Poster | undefined;
  readonly #request: (() => Buffer) | undefined;
  readonly #closeRequest: (() => Buffer) | undefined;
  #echoPending = 0;
  #statusPending = false;
  #running = false;
  #sentAt = 0n;
  /** Latency mode: one sample per round trip, in microseconds. */
  onRoundTrip: ((micros: number) => void) | undefined;

  private constructor(
    stream: EventStream,
    poster: Poster | undefined,
    request: (() => Buffer) | undefined,
    closeRequest: (() => Buffer) | undefined,
  ) {
    this.#stream = stream;
    this.#poster = poster;
    this.#request = request;
    this.#closeRequest = closeRequest;
    stream.socket.on('close', () => {
      if (this.#running) this.#error('event stream closed by the server');
    });
  }

  static async open(
    system: SseSystem,
    host: string,
    port: number,
    size: number,
    tag: string,
  ): Promise<SseConn> {
    const payload = 'x'.repeat(size);
    switch (system) {
      case 'sse-raw-push': {
        const stream = await openEventStream(host, port, `/sse/push?size=${size}`, (t) => t.includes(': ok'));
        return new SseConn(stream, undefined, undefined, undefined);
      }
      case 'sse-raw-echo':
      case 'sse-raw-idle': {
        const stream = await openEventStream(host, port, `/sse/stream?id=${tag}`, (t) => t.includes(': ok'));
        if (system === 'sse-raw-idle') return new SseConn(stream, undefined, undefined, undefined);
        const poster = await Poster.open(host, port);
        const request = postRequest(host, port, `/sse/send/${tag}`, {}, Buffer.from(payload));
        return new SseConn(stream, poster, () => request, undefined);
      }
      case 'sse-push':
      case 'sse-echo':
      case 'sse-idle':
      case 'sse-hello-idle': {
        const stream = await openEventStream(host, port, '/rt/sse', (t) => parseSession(t) !== undefined);
        if (system === 'sse-idle') return new SseConn(stream, undefined, undefined, undefined);
        const session = parseSession(stream.text())!;
        const poster = await Poster.open(host, port);
        let batch = 0;
        const post = (body: Buffer, extra: Record<string, string> = {}) =>
          postRequest(
            host,
            port,
            `/rt/sse/${session.id}`,
            { authorization: `Bearer ${session.secret}`, 'x-switchyard-batch': String(++batch), ...extra },
            body,
          );
        const close = () => post(batchClose(1000));
        if (system === 'sse-hello-idle') {
          const welcomed = new Promise<void>((resolve) => stream.count(() => resolve()));
          const status = await poster.send(
            post(batchText('{"type":"hello","v":1}'), { connection: 'close' }),
          );
          if (status !== 204) throw new Error(`hello POST answered ${status}`);
          await welcomed;
          poster.socket.destroy();
          return new SseConn(stream, undefined, undefined, undefined);
        }
        if (system === 'sse-push') {
          const conn = new SseConn(stream, poster, undefined, close);
          conn.#pushBody = post(batchText(`push:${size}`));
          return conn;
        }
        const body = batchText(payload);
        return new SseConn(stream, poster, () => post(body), close);
      }
    }
  }

  #pushBody: Buffer | undefined;

  /** Starts the load: push streams start counting; echo connections send their first POST. */
  start(): void {
    this.#running = true;
    if (this.#request) {
      this.#stream.count((n) => {
        this.#echoPending -= n;
        if (this.#echoPending < 0) {
          this.unexpected -= this.#echoPending;
          this.#echoPending = 0;
        }
        this.#maybeComplete();
      });
      this.#next();
      return;
    }
    this.#stream.count((n) => this.onReplies(n));
    if (this.#pushBody && this.#poster) {
      void this.#poster.send(this.#pushBody).then(
        (status) => {
          if (status !== 204) this.#error(`push POST answered ${status}`);
        },
        (error: Error) => this.#error(error.message),
      );
    }
  }

  #next(): void {
    if (!this.#running || !this.#request || !this.#poster) return;
    this.#echoPending = 1;
    this.#statusPending = true;
    this.#sentAt = process.hrtime.bigint();
    this.#poster.send(this.#request()).then(
      (status) => {
        if (status !== 204) {
          this.#error(`POST answered ${status}`);
          this.#running = false;
          return;
        }
        this.#statusPending = false;
        this.#maybeComplete();
      },
      (error: Error) => {
        this.#error(error.message);
        this.#running = false;
      },
    );
  }

  #maybeComplete(): void {
    if (this.#echoPending > 0 || this.#statusPending) return;
    this.onRoundTrip?.(Number(process.hrtime.bigint() - this.#sentAt) / 1000);
    this.onReplies(1);
    this.#next();
  }

  #error(message: string): void {
    if (this.errors.length < 3) this.errors.push(message);
  }

  stopSending(): void {
    this.#running = false;
  }

  /** Ends our session at once with a close frame (else it would wait out its resume grace), then the sockets. */
  async close(): Promise<void> {
    this.#running = false;
    // Our clean close makes the server answer with a `close` event: that is not a reply to count.
    this.#stream.count(() => {});
    if (this.#poster && this.#closeRequest) {
      // Wait for an echo still in flight: one POST at a time on this socket.
      for (let i = 0; i < 50 && this.#statusPending; i++) await new Promise((r) => setTimeout(r, 10));
      await Promise.race([
        this.#poster.send(this.#closeRequest()).catch(() => 0),
        new Promise((r) => setTimeout(r, 1000)),
      ]);
    }
    this.#poster?.socket.destroy();
    this.#stream.socket.destroy();
  }
}
