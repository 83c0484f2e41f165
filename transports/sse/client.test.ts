/**
 * Unit tests of the SSE client alone, over a scripted EventSource and fetch: the POST pipeline (one in flight,
 * sends accumulating for the next, order kept) and that events from a closed EventSource are ignored.
 * The same behaviour against a real server is in server.test.ts and session.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { MessageEvent, Payload } from '../../src/transport.ts';
import { type BatchFrame, decodeBatch } from './batch.ts';
import { type EventSourceLike, type FetchLike, SseTransport } from './client.ts';
import { encodePayloadData } from './encoder.ts';

type Listener = (event: { data?: unknown }) => void;

class ScriptedEventSource implements EventSourceLike {
  static last: ScriptedEventSource | undefined;
  readyState = 0;
  readonly listeners = new Map<string, Listener[]>();
  constructor(readonly url: string) {
    ScriptedEventSource.last = this;
  }
  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  close(): void {
    this.readyState = 2;
  }
  /** Dispatches like a platform EventSource would, even after close (a late task): the client must ignore it. */
  emit(type: string, data?: string): void {
    for (const listener of this.listeners.get(type) ?? []) listener({ data });
  }
}

function scriptedFetch() {
  const posts: {
    url: string;
    frames: BatchFrame[];
    batch: string | null;
    respond: (status?: number) => void;
  }[] = [];
  const fetch: FetchLike = (url, init) =>
    new Promise<Response>((resolve) => {
      const headers = new Headers(init.headers);
      posts.push({
        url,
        frames: decodeBatch(init.body as Uint8Array, 1 << 20),
        batch: headers.get('x-switchyard-batch'),
        respond: (status = 204) => resolve(new Response(null, { status })),
      });
    });
  return { fetch, posts };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

function open(fetch: FetchLike, highWaterMark?: number) {
  const transport = new SseTransport({
    url: 'https://example.test/rt/sse',
    EventSource: ScriptedEventSource,
    fetch,
    ...(highWaterMark === undefined ? {} : { highWaterMark }),
  });
  const source = ScriptedEventSource.last!;
  source.emit('session', JSON.stringify({ id: 'S', secret: 'K', postUrl: 'sse/S' }));
  return { transport, source };
}

const texts = (frames: BatchFrame[]) =>
  frames.map((f) => (f.kind === 'message' ? f.data : `close ${f.code}`));

describe('SSE client POST pipeline', () => {
  it('keeps one POST in flight; sends made meanwhile go together in the next one, in order', async () => {
    const { fetch, posts } = scriptedFetch();
    const { transport } = open(fetch);
    expect(transport.state).toBe('open');
    void transport.send('a');
    void transport.send('b');
    await tick();
    expect(posts).toHaveLength(1);
    expect(posts[0]!.url).toBe('https://example.test/rt/sse/S'); // relative post URL resolved
    expect(texts(posts[0]!.frames)).toEqual(['a', 'b']);
    for (const m of ['c', 'd', 'e']) void transport.send(m);
    await tick();
    expect(posts).toHaveLength(1); // the first is still in flight
    posts[0]!.respond();
    await tick();
    expect(posts).toHaveLength(2);
    expect(texts(posts[1]!.frames)).toEqual(['c', 'd', 'e']);
    expect([posts[0]!.batch, posts[1]!.batch]).toEqual(['1', '2']);
  });

  it('holds send() above the high-water mark until the POST completes, and rejects it if the POST is refused', async () => {
    const { fetch, posts } = scriptedFetch();
    const { transport } = open(fetch, 0);
    let settled = false;
    const first = transport.send('x').then(() => {
      settled = true;
    });
    await tick();
    expect(settled).toBe(false);
    posts[0]!.respond(204);
    await first;
    const second = transport.send('y');
    await tick();
    posts[0 + 1]!.respond(401);
    await expect(second).rejects.toMatchObject({ code: 'ERR_TRANSPORT', closeCode: 4001 });
    expect(transport.state).toBe('closed');
  });

  it('ignores events that a closed EventSource still dispatches', async () => {
    const { fetch } = scriptedFetch();
    const { transport, source } = open(fetch);
    const messages: MessageEvent[] = [];
    const closes: unknown[] = [];
    transport.on('message', (m) => messages.push(m));
    transport.on('close', (e) => closes.push(e));
    const event = (data: Payload) => encodePayloadData('', data);
    source.emit('t', event('before').data);
    source.emit('close', JSON.stringify({ code: 4000, reason: 'bye' }));
    expect(source.readyState).toBe(2);
    source.emit('t', event('late').data);
    source.emit('close', JSON.stringify({ code: 1000, reason: 'again' }));
    source.emit('error');
    expect(messages.map((m) => m.data)).toEqual(['before']);
    expect(closes).toEqual([{ code: 4000, reason: 'bye', wasClean: true }]);
  });
});
