/**
 * The lightest SSE + POST client: the event stream is a plain TCP socket whose events are counted by their
 * `data:` lines (comments such as heartbeats have none), and POSTs go out as pre-built HTTP/1.1 requests on a
 * keep-alive socket, one in flight. No EventSource, no fetch: what the server does is what gets measured.
 */
import { connect, type Socket } from 'node:net';

/** Counts occurrences of a fixed byte string across chunk boundaries. */
export class NeedleCounter {
  readonly #needle: Buffer;
  #tail = Buffer.alloc(0);

  constructor(needle: string) {
    this.#needle = Buffer.from(needle);
  }

  push(chunk: Buffer): number {
    const needle = this.#needle;
    let count = 0;
    if (this.#tail.length > 0) {
      const joint = Buffer.concat([this.#tail, chunk.subarray(0, needle.length - 1)]);
      for (let i = joint.indexOf(needle); i >= 0 && i < this.#tail.length; i = joint.indexOf(needle, i + 1))
        count++;
    }
    for (let i = chunk.indexOf(needle); i >= 0; i = chunk.indexOf(needle, i + needle.length)) count++;
    this.#tail = Buffer.from(chunk.subarray(Math.max(0, chunk.length - (needle.length - 1))));
    return count;
  }
}

/** One event per `data:` line: our events and the hand-written server's both carry exactly one. */
export const EVENT_NEEDLE = '\ndata: ';

export interface EventStream {
  readonly socket: Socket;
  /** Text received so far during setup (headers and first events), for parsing the session. */
  readonly text: () => string;
  /** Switches from setup to counting: `onEvents(n)` per chunk with n events in it. */
  count(onEvents: (n: number) => void): void;
}

/** Opens `GET path` with `Accept: text/event-stream` and resolves once `ready(text)` says so. */
export function openEventStream(
  host: string,
  port: number,
  path: string,
  ready: (text: string) => boolean,
): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    let text = '';
    let counter: NeedleCounter | undefined;
    let onEvents: (n: number) => void = () => {};
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(error);
    };
    socket.once('error', fail);
    socket.once('close', () => fail(new Error(`event stream ${path} closed during setup`)));
    socket.once('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\n\r\n`);
    });
    const stream: EventStream = {
      socket,
      text: () => text,
      count(listener) {
        counter = new NeedleCounter(EVENT_NEEDLE);
        onEvents = listener;
      },
    };
    socket.on('data', (chunk: Buffer) => {
      if (counter) {
        const n = counter.push(chunk);
        if (n > 0) onEvents(n);
        return;
      }
      // Set up, not counting yet (a push stream may already be flowing): drop what arrives until count().
      if (settled) return;
      text += chunk.toString('latin1');
      if (!text.startsWith('HTTP/1.1 200')) {
        if (text.includes('\r\n')) fail(new Error(`event stream refused: ${text.split('\r\n')[0]}`));
        return;
      }
      if (ready(text)) {
        settled = true;
        socket.removeAllListeners('error');
        socket.removeAllListeners('close');
        socket.on('error', () => {});
        resolve(stream);
      }
    });
  });
}

/** A keep-alive HTTP/1.1 connection with at most one request in flight. */
export class Poster {
  readonly socket: Socket;
  #buffer = '';
  #waiting: { resolve: (status: number) => void; reject: (error: Error) => void } | undefined;
  #bodyLeft = 0;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error) => this.#waiting?.reject(error));
    socket.on('close', () => this.#waiting?.reject(new Error('POST connection closed')));
  }

  static open(host: string, port: number): Promise<Poster> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new Poster(socket));
      });
    });
  }

  /** Sends a pre-built request; resolves with the status once the whole response arrived. */
  send(request: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.socket.write(request);
    });
  }

  #onData(chunk: Buffer): void {
    let data = chunk.toString('latin1');
    if (this.#bodyLeft > 0) {
      const skip = Math.min(this.#bodyLeft, data.length);
      this.#bodyLeft -= skip;
      data = data.slice(skip);
      if (this.#bodyLeft === 0) this.#finish();
    }
    this.#buffer += data;
    const end = this.#buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.#buffer.slice(0, end);
    const rest = this.#buffer.slice(end + 4);
    this.#buffer = '';
    this.#status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    this.#bodyLeft = length ? Number(length[1]) - rest.length : 0;
    if (this.#bodyLeft <= 0) {
      this.#bodyLeft = 0;
      this.#finish();
    }
  }

  #status = 0;

  #finish(): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.resolve(this.#status);
  }
}

/** A complete POST request, headers and body, ready to write. */
export function postRequest(
  host: string,
  port: number,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
): Buffer {
  let head = `POST ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nContent-Length: ${body.length}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  return Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), body]);
}

/** One text message on the default channel in our upstream batch format (transports/sse/batch.ts). */
export function batchText(text: string): Buffer {
  const bytes = Buffer.from(text);
  const out = Buffer.alloc(6 + bytes.length);
  out[0] = 0; // text
  out[1] = 0; // default channel
  out.writeUInt32BE(bytes.length, 2);
  bytes.copy(out, 6);
  return out;
}

/** Our close frame in the batch format: ends the session at once instead of leaving it to its grace period. */
export function batchClose(code: number): Buffer {
  const out = Buffer.alloc(8);
  out[0] = 2;
  out[1] = 0;
  out.writeUInt32BE(2, 2);
  out.writeUInt16BE(code, 6);
  return out;
}

/** Session fields from our stream's `session` event, once it has arrived. */
export function parseSession(text: string): { id: string; secret: string } | undefined {
  const match = /event: session\nid: [^\n]*\ndata: (\{[^\n]*\})\n\n/.exec(text);
  if (!match) return undefined;
  const value = JSON.parse(match[1]!) as { id: string; secret: string };
  return { id: value.id, secret: value.secret };
}
