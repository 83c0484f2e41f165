/**
 * The SSE rung's HTTP surface as any client (curl, a proxy, a hostile script) sees it: headers, statuses,
 * batching, retried POSTs and Last-Event-ID resume.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningServer, startNodeServer } from '../../server/node.ts';
import type { ServerConnection, ServerTransportLimits } from '../../src/transport.ts';
import { encodeBatch } from './batch.ts';
import { createNodeSseTransport } from './node.ts';

interface RawEvent {
  event?: string;
  id?: string;
  data: string;
}

/** A minimal SSE reader over fetch, so the tests see the raw stream and control when it drops. */
async function openStream(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  const events: RawEvent[] = [];
  const comments: string[] = [];
  let raw = '';
  const done = (async () => {
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { done: end, value } = await reader.read();
        if (end) break;
        const text = decoder.decode(value, { stream: true });
        raw += text;
        buffer += text;
        let split = buffer.indexOf('\n\n');
        while (split >= 0) {
          const block = buffer.slice(0, split);
          buffer = buffer.slice(split + 2);
          const event: RawEvent = { data: '' };
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line);
            else if (line.startsWith('event: ')) event.event = line.slice(7);
            else if (line.startsWith('id: ')) event.id = line.slice(4);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length > 0) {
            event.data = data.join('\n');
            events.push(event);
          }
          split = buffer.indexOf('\n\n');
        }
      }
    } catch {}
  })();
  return { response, events, comments, raw: () => raw, abort: () => controller.abort(), done };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('SSE rung over HTTP', () => {
  let server: RunningServer | undefined;
  const connections: ServerConnection[] = [];
  const received: unknown[] = [];
  afterEach(async () => {
    await server?.close();
    server = undefined;
    connections.length = 0;
    received.length = 0;
  });

  async function start(limits?: Partial<ServerTransportLimits>) {
    server = await startNodeServer({
      onConnection: (c) => {
        connections.push(c);
        c.on('message', (m) => received.push(m.data));
      },
      ...(limits ? { limits } : {}),
      heartbeatMs: 200,
    });
    return server;
  }

  async function openSession() {
    const s = server!;
    const stream = await openStream(`${s.url}/rt/sse`);
    await until(() => stream.events.some((e) => e.event === 'session'), 'session event');
    const event = stream.events.find((e) => e.event === 'session')!;
    const session = JSON.parse(event.data) as { id: string; secret: string; postUrl: string };
    // The post URL is relative to the stream URL; resolve it as the client does.
    return {
      stream,
      session: { ...session, postUrl: new URL(session.postUrl, `${s.url}/rt/sse`).href },
      event,
    };
  }

  const post = (url: string, body: Uint8Array, headers: Record<string, string>) =>
    fetch(url, {
      method: 'POST',
      body: body as unknown as BodyInit,
      headers: { 'content-type': 'application/octet-stream', ...headers },
    });

  it('streams with proxy-proof headers, an initial comment and comment heartbeats', async () => {
    await start();
    const { stream } = await openSession();
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toBe('text/event-stream');
    expect(stream.response.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(stream.response.headers.get('x-accel-buffering')).toBe('no');
    expect(stream.response.headers.get('content-encoding')).toBeNull();
    expect(stream.raw().startsWith(': switchyard\n')).toBe(true);
    await until(() => stream.comments.includes(': hb'), 'a heartbeat comment');
    stream.abort();
  });

  it('answers upstream errors with documented statuses and closes the session with the matching code', async () => {
    await start({ maxMessageBytes: 1000 });
    const cases: [string, Uint8Array, Record<string, string>, number, string, number | undefined][] = [];
    const { stream, session } = await openSession();
    const auth = { authorization: `Bearer ${session.secret}` };
    const unknown = await post(`${server!.url}/rt/sse/nope`, encodeBatch([]), {
      ...auth,
      'x-switchyard-batch': '1',
    });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: 'ERR_UNKNOWN_SESSION', closeCode: 4010 });
    const wrong = await post(session.postUrl, encodeBatch([]), {
      authorization: 'Bearer wrong',
      'x-switchyard-batch': '1',
    });
    expect(wrong.status).toBe(401);
    const missingBatch = await post(session.postUrl, encodeBatch([]), auth);
    expect(missingBatch.status).toBe(400);
    expect(connections[0]!.state).toBe('open');
    cases.push([
      'oversize',
      encodeBatch([{ kind: 'message', channel: '', data: new Uint8Array(1001) }]),
      auth,
      413,
      'ERR_MESSAGE_TOO_BIG',
      1009,
    ]);
    for (const [, body, headers, status, code, closeCode] of cases) {
      const response = await post(session.postUrl, body, { ...headers, 'x-switchyard-batch': '1' });
      expect(response.status).toBe(status);
      expect(await response.json()).toMatchObject({ error: code, closeCode });
    }
    await until(() => stream.events.some((e) => e.event === 'close'), 'close event');
    expect(JSON.parse(stream.events.find((e) => e.event === 'close')!.data)).toMatchObject({ code: 1009 });
    expect(connections[0]!.state).toBe('closed');
  });

  it.each([
    ['malformed batch', 400, Uint8Array.of(9, 0, 0, 0, 0, 0), 'ERR_INVALID_FRAME', 1002],
    ['invalid UTF-8', 400, Uint8Array.of(0, 0, 0, 0, 0, 2, 0xc3, 0x28), 'ERR_INVALID_UTF8', 1007],
    [
      'close frame with code 1006',
      400,
      Uint8Array.of(2, 0, 0, 0, 0, 2, 0x03, 0xee),
      'ERR_INVALID_FRAME',
      1002,
    ],
  ])('refuses a %s with %i and closes the session', async (_name, status, body, code, closeCode) => {
    await start();
    const { stream, session } = await openSession();
    const response = await post(session.postUrl, body, {
      authorization: `Bearer ${session.secret}`,
      'x-switchyard-batch': '1',
    });
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject({ error: code, closeCode });
    await until(() => stream.events.some((e) => e.event === 'close'), 'close event');
    expect(received).toEqual([]); // nothing of a refused batch is delivered
  });

  it('refuses a body over the batch cap from Content-Length alone with 413', async () => {
    await start({ maxMessageBytes: 1000 });
    const { session } = await openSession();
    const response = await post(session.postUrl, new Uint8Array(2 * 1024 * 1024), {
      authorization: `Bearer ${session.secret}`,
      'x-switchyard-batch': '1',
    });
    expect(response.status).toBe(413);
  });

  it('refuses a streamed body (no Content-Length) that runs over the batch cap with 413, applying nothing', async () => {
    await start({ maxMessageBytes: 1000 });
    const { stream, session } = await openSession();
    await until(() => connections.length === 1, 'connection');
    // A valid first frame, then more than the 1 MiB cap in chunks: the cap is only seen while reading.
    const first = encodeBatch([{ kind: 'message', channel: '', data: 'must not arrive' }]);
    const chunk = new Uint8Array(64 * 1024);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(first);
        else if (sent > 1024 * 1024 + 2 * chunk.byteLength) return controller.close();
        else controller.enqueue(chunk);
        sent += sent === 0 ? first.byteLength : chunk.byteLength;
      },
    });
    const response = await fetch(session.postUrl, {
      method: 'POST',
      body,
      duplex: 'half',
      headers: { authorization: `Bearer ${session.secret}`, 'x-switchyard-batch': '1' },
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: 'ERR_MESSAGE_TOO_BIG', closeCode: 1009 });
    await until(() => stream.events.some((e) => e.event === 'close'), 'close event');
    expect(JSON.parse(stream.events.find((e) => e.event === 'close')!.data)).toMatchObject({ code: 1009 });
    expect(received).toEqual([]);
    expect(connections[0]!.state).toBe('closed');
  });

  it('holds sends at the high-water mark for a client that does not read, then delivers all, in order', async () => {
    const highWaterMark = 64 * 1024;
    await start({ highWaterMark });
    // A client that reads the session event and then stops reading: the socket fills up.
    const controller = new AbortController();
    const response = await fetch(`${server!.url}/rt/sse`, {
      headers: { accept: 'text/event-stream' },
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    let head = '';
    while (!head.includes('event: session')) head += new TextDecoder().decode((await reader.read()).value);
    await until(() => connections.length === 1, 'connection');
    const connection = connections[0]!;
    const pad = 'x'.repeat(1000);
    let count = 0;
    let blocked: Promise<void> | undefined;
    while (!blocked && count < 50_000) {
      const sending = connection.send(`${count++}:${pad}`);
      if (connection.bufferedAmount > highWaterMark) blocked = sending;
      else await sending;
      // Let the writes of this burst reach the socket (drains continue on setImmediate).
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(blocked).toBeDefined();
    let released = false;
    void blocked!.then(() => {
      released = true;
    });
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(released).toBe(false);
    expect(connection.bufferedAmount).toBeGreaterThan(highWaterMark);
    // The client reads again: everything arrives once, in order, and the held send is released.
    const decoder = new TextDecoder();
    let text = head;
    const indexes: number[] = [];
    let at = 0;
    while (indexes.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      for (let end = text.indexOf('\n\n', at); end >= 0; end = text.indexOf('\n\n', at)) {
        const block = text.slice(at, end);
        at = end + 2;
        const data = /^event: t\nid: [\w-]+\.\d+\ndata: :(.*)$/.exec(block)?.[1];
        if (data !== undefined) indexes.push(Number((JSON.parse(data) as string).split(':')[0]));
      }
      text = text.slice(at);
      at = 0;
    }
    await blocked;
    expect(indexes).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(connection.state).toBe('open');
    controller.abort();
  });

  it('applies a retried batch once (same batch number)', async () => {
    await start();
    const { session } = await openSession();
    const body = encodeBatch([{ kind: 'message', channel: '', data: 'once' }]);
    const headers = { authorization: `Bearer ${session.secret}`, 'x-switchyard-batch': '1' };
    expect((await post(session.postUrl, body, headers)).status).toBe(204);
    expect((await post(session.postUrl, body, headers)).status).toBe(204);
    expect(received).toEqual(['once']);
  });

  it('batches sends made together into fewer POSTs, in order', async () => {
    await start();
    let posts = 0;
    const counting = (url: string, init: RequestInit) => {
      posts++;
      return fetch(url, init);
    };
    const transport = createNodeSseTransport({ url: `${server!.url}/rt/sse`, fetch: counting });
    await new Promise((resolve) => transport.on('open', resolve));
    const sends = Array.from({ length: 500 }, (_, i) => transport.send(`m${i}`));
    await Promise.all(sends);
    await until(() => received.length === 500, '500 messages');
    expect(received).toEqual(Array.from({ length: 500 }, (_, i) => `m${i}`));
    expect(posts).toBeLessThan(50);
    transport.close();
  });

  it('resumes a dropped stream from Last-Event-ID with nothing lost or doubled', async () => {
    await start();
    const { stream, session } = await openSession();
    await until(() => connections.length === 1, 'connection');
    const connection = connections[0]!;
    for (let i = 0; i < 10; i++) await connection.send(`a${i}`);
    await until(() => stream.events.filter((e) => e.event === 't').length === 10, 'first 10');
    const lastId = stream.events.filter((e) => e.event === 't').at(-1)!.id!;
    stream.abort();
    // Sent while no stream is attached: kept for the resume.
    for (let i = 0; i < 5; i++) void connection.send(`b${i}`);
    const resumed = await openStream(`${server!.url}/rt/sse`, { 'last-event-id': lastId });
    await until(() => resumed.events.filter((e) => e.event === 't').length === 5, 'replayed 5');
    await connection.send('c0');
    await until(() => resumed.events.filter((e) => e.event === 't').length === 6, 'live after resume');
    expect(resumed.events.filter((e) => e.event === 't').map((e) => JSON.parse(e.data.slice(1)))).toEqual([
      'b0',
      'b1',
      'b2',
      'b3',
      'b4',
      'c0',
    ]);
    expect(resumed.events.some((e) => e.event === 'session')).toBe(false);
    expect(connection.state).toBe('open');
    expect(session.id).toBeTruthy();
    resumed.abort();
  });

  it('refuses a resume with an unknown key or a forged sequence with close 4010', async () => {
    const s = await start();
    const forged = await openStream(`${s.url}/rt/sse`, { 'last-event-id': 'not-a-key.3' });
    await until(() => forged.events.some((e) => e.event === 'close'), 'close event');
    expect(JSON.parse(forged.events[0]!.data)).toMatchObject({ code: 4010 });
    expect(connections).toHaveLength(0);
  });
});
