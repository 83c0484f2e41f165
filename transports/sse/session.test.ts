/**
 * The SSE session as a user of the rung observes it across failures: a cut TCP connection resumes with nothing
 * lost or doubled, a stream that never comes back closes 1006, a resume past the replay buffer closes 4010,
 * admission refusals are real HTTP statuses, and a refused POST rejects the sends waiting on it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import type net from 'node:net';
import { serve } from '@hono/node-server';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningServer, startNodeServer } from '../../server/node.ts';
import { admitAll } from '../../src/admission.ts';
import { CloseCode } from '../../src/close-codes.ts';
import type { CloseEvent, Payload, ServerConnection, Transport } from '../../src/transport.ts';
import { DEFAULT_LIMITS } from '../../src/transport.ts';
import { TcpRelay } from '../../test/client/relay.ts';
import { createNodeSseTransport } from './node.ts';
import { createSseRoutes } from './server.ts';

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function rawStream(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  let raw = '';
  const reading = (async () => {
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        raw += decoder.decode(value, { stream: true });
      }
    } catch {}
  })();
  return { response, raw: () => raw, abort: () => controller.abort(), reading };
}

describe('SSE session lifecycle', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(options: Partial<Parameters<typeof startNodeServer>[0]> = {}) {
    const connections: ServerConnection[] = [];
    const received: Payload[] = [];
    const server: RunningServer = await startNodeServer({
      onConnection: (c) => {
        connections.push(c);
        c.on('message', (m) => received.push(m.data));
      },
      ...options,
    });
    cleanups.push(() => server.close());
    return { server, connections, received };
  }

  function track(transport: Transport) {
    const messages: Payload[] = [];
    const closes: CloseEvent[] = [];
    transport.on('message', (m) => messages.push(m.data));
    transport.on('close', (e) => closes.push(e));
    cleanups.push(() => {
      if (transport.state === 'open') transport.close();
    });
    return { messages, closes, opened: new Promise((resolve) => transport.on('open', resolve)) };
  }

  it('survives a cut TCP connection: EventSource resumes with Last-Event-ID, nothing lost or doubled', async () => {
    const { server, connections, received } = await start();
    const relay = await TcpRelay.start(server.port);
    cleanups.push(() => relay.close());
    const transport = createNodeSseTransport({ url: `http://127.0.0.1:${relay.port}/rt/sse` });
    const client = track(transport);
    await client.opened;
    await until(() => connections.length === 1, 'server connection');
    const connection = connections[0]!;
    for (let i = 0; i < 100; i++) void connection.send(`m${i}`);
    await until(() => client.messages.length === 100, 'first 100');
    relay.cut();
    // Sent while the stream is down: the session buffers them for the resume.
    for (let i = 100; i < 200; i++) void connection.send(`m${i}`);
    await until(() => client.messages.length >= 200, 'all 200 after the resume');
    await connection.send('after');
    await until(() => client.messages.length === 201, 'a live message after the resume');
    expect(client.messages).toEqual([...Array.from({ length: 200 }, (_, i) => `m${i}`), 'after']);
    expect(client.closes).toEqual([]);
    expect(connection.state).toBe('open');
    expect(connections).toHaveLength(1); // the same session, not a new one
    // Upstream still works over new TCP connections.
    await transport.send('up');
    await until(() => received.includes('up'), 'upstream after the cut');
  });

  it('resumes from the session event itself (a drop before any message)', async () => {
    const { server, connections } = await start();
    const first = await rawStream(`${server.url}/rt/sse`);
    await until(() => first.raw().includes('event: session'), 'session event');
    const id = /event: session\nid: (\S+)\n/.exec(first.raw())?.[1];
    expect(id).toMatch(/\.0$/);
    first.abort();
    await until(() => connections.length === 1, 'connection');
    void connections[0]!.send('x');
    const resumed = await rawStream(`${server.url}/rt/sse`, { 'last-event-id': id! });
    await until(() => resumed.raw().includes('event: t'), 'replayed message');
    expect(resumed.raw()).toContain('data: :"x"');
    expect(resumed.raw()).not.toContain('event: session');
    resumed.abort();
  });

  it('resumes although the URL token is single-use: a resume is admitted as a request of the session', async () => {
    const phases: string[] = [];
    const { server, connections } = await start({
      admission: ({ phase }) => {
        phases.push(phase);
        // A single-use token: the second 'connect' with the same URL is a replay.
        return phase === 'connect' && phases.filter((p) => p === 'connect').length > 1
          ? {
              status: 401,
              closeCode: CloseCode.Unauthorized,
              code: 'ERR_UNAUTHORIZED',
              message: 'replayed token',
            }
          : null;
      },
    });
    const first = await rawStream(`${server.url}/rt/sse?token=once`);
    await until(() => first.raw().includes('event: session'), 'session event');
    const id = /event: session\nid: (\S+)\n/.exec(first.raw())![1]!;
    first.abort();
    await until(() => connections.length === 1, 'connection');
    void connections[0]!.send('kept');
    const resumed = await rawStream(`${server.url}/rt/sse?token=once`, { 'last-event-id': id });
    await until(() => resumed.raw().includes('event: t'), 'replayed message');
    expect(resumed.response.status).toBe(200);
    expect(phases).toEqual(['connect', 'post']);
    const replay = await rawStream(`${server.url}/rt/sse?token=once`);
    expect(replay.response.status).toBe(401); // a new session still needs a fresh token
    resumed.abort();
  });

  it('closes a session whose resume id is older than the replay buffer with 4010, on both sides', async () => {
    const { server, connections } = await start();
    const stream = await rawStream(`${server.url}/rt/sse`);
    await until(() => connections.length === 1, 'connection');
    const connection = connections[0]!;
    const closed = new Promise<CloseEvent>((resolve) => connection.on('close', resolve));
    await until(() => stream.raw().includes('event: session'), 'session event');
    const firstId = /event: session\nid: (\S+)\n/.exec(stream.raw())![1]!;
    const chunk = 'x'.repeat(64 * 1024);
    // 3 MiB, past the 2 MiB replay buffer: the first events are gone.
    for (let i = 0; i < 48; i++) await connection.send(chunk);
    await until(() => (stream.raw().match(/event: t\n/g) ?? []).length === 48, 'all 48 written');
    stream.abort();
    const resumed = await rawStream(`${server.url}/rt/sse`, { 'last-event-id': firstId });
    await resumed.reading;
    expect(resumed.raw()).toContain('event: close\ndata: {"code":4010,');
    expect(await closed).toMatchObject({ code: CloseCode.UnknownSession });
  });

  it('tells a client that resumes after its session was closed the real close code (e.g. 1001 at shutdown)', async () => {
    const { server, connections } = await start();
    const stream = await rawStream(`${server.url}/rt/sse`);
    await until(() => stream.raw().includes('event: session'), 'session event');
    const id = /event: session\nid: (\S+)\n/.exec(stream.raw())![1]!;
    await until(() => connections.length === 1, 'connection');
    stream.abort();
    connections[0]!.close(CloseCode.GoingAway, 'restarting');
    const resumed = await rawStream(`${server.url}/rt/sse`, { 'last-event-id': id });
    await resumed.reading;
    expect(resumed.raw()).toBe('event: close\ndata: {"code":1001,"reason":"restarting"}\n\n');
  });

  it('closes a session whose stream is not resumed within the grace period with 1006, not clean', async () => {
    const connections: ServerConnection[] = [];
    const app = createSseRoutes({
      onConnection: (c) => connections.push(c),
      limits: DEFAULT_LIMITS,
      heartbeatMs: 60_000,
      admission: admitAll,
      connectionRequest: (c) => ({ url: c.req.url, origin: null, ip: '127.0.0.1', headers: {} }),
      resumeGraceMs: 50,
    });
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((resolve) => server.once('listening', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          if ('closeAllConnections' in server) server.closeAllConnections();
        }),
    );
    const port = (server.address() as net.AddressInfo).port;
    const stream = await rawStream(`http://127.0.0.1:${port}/`);
    await until(() => connections.length === 1, 'connection');
    const closed = new Promise<CloseEvent>((resolve) => connections[0]!.on('close', resolve));
    stream.abort();
    expect(await closed).toEqual({
      code: CloseCode.Abnormal,
      reason: 'event stream lost and not resumed',
      wasClean: false,
    });
  });

  it('answers an admission refusal with its HTTP status, and the Node client reports its close code', async () => {
    const { server, connections } = await start({
      admission: ({ request }) =>
        request.headers.get('origin') === 'https://evil.example'
          ? { status: 403, closeCode: CloseCode.ForbiddenOrigin, code: 'ERR_FORBIDDEN_ORIGIN', message: 'no' }
          : null,
    });
    const refused = await fetch(`${server.url}/rt/sse`, {
      headers: { accept: 'text/event-stream', origin: 'https://evil.example' },
    });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'ERR_FORBIDDEN_ORIGIN', closeCode: 4003 });
    const transport = createNodeSseTransport({
      url: `${server.url}/rt/sse`,
      headers: { origin: 'https://evil.example' },
    });
    const closed = await new Promise<CloseEvent>((resolve) => transport.on('close', resolve));
    expect(closed).toMatchObject({ code: CloseCode.ForbiddenOrigin, wasClean: false });
    expect(connections).toHaveLength(0);
  });

  it('refuses upstream POSTs at admission (phase post) with the refusal status', async () => {
    const { server, connections, received } = await start({
      admission: ({ phase }) =>
        phase === 'post'
          ? { status: 429, closeCode: CloseCode.RateLimited, code: 'ERR_RATE_LIMITED', message: 'slow down' }
          : null,
    });
    const transport = createNodeSseTransport({ url: `${server.url}/rt/sse`, highWaterMark: 0 });
    const client = track(transport);
    await client.opened;
    await expect(transport.send('hi')).rejects.toMatchObject({ code: 'ERR_RATE_LIMITED' });
    expect(client.closes[0]).toMatchObject({ code: CloseCode.RateLimited });
    expect(received).toEqual([]);
    expect(connections).toHaveLength(1);
  });

  it('rejects a waiting send() with the error of the POST that carried it (413 from the server)', async () => {
    const { server } = await start({ limits: { maxMessageBytes: 100 } });
    // The client believes in a larger limit than the server's, and waits for every POST (high-water mark 0).
    const transport = createNodeSseTransport({
      url: `${server.url}/rt/sse`,
      maxMessageBytes: 1000,
      highWaterMark: 0,
    });
    const client = track(transport);
    await client.opened;
    await transport.send('small');
    await expect(transport.send('y'.repeat(500))).rejects.toMatchObject({
      code: 'ERR_MESSAGE_TOO_BIG',
      closeCode: CloseCode.MessageTooBig,
    });
    await until(() => client.closes.length === 1, 'close event');
    expect(client.closes[0]!.code).toBe(CloseCode.MessageTooBig);
  });

  it.skipIf(!existsSync('/usr/bin/curl'))(
    'curl -N shows the proxy headers, the initial comment and the session event at once',
    async () => {
      const { server } = await start();
      const output = await new Promise<string>((resolve) => {
        execFile(
          '/usr/bin/curl',
          ['-N', '-s', '-i', '--max-time', '1', '-H', 'Accept: text/event-stream', `${server.url}/rt/sse`],
          (_error, stdout) => resolve(stdout),
        );
      });
      const [head = '', body = ''] = output.split('\r\n\r\n');
      expect(head).toMatch(/^HTTP\/1\.1 200/);
      expect(head).toMatch(/^content-type: text\/event-stream/im);
      expect(head).toMatch(/^cache-control: no-cache, no-transform\r?$/im);
      expect(head).toMatch(/^x-accel-buffering: no\r?$/im);
      expect(head).not.toMatch(/^content-encoding:/im);
      expect(body.startsWith(': switchyard\nretry: 1000\n\n')).toBe(true);
      expect(body).toMatch(
        /event: session\nid: [\w-]+\.0\ndata: \{"id":"[\w-]+","secret":"[\w-]{43}","postUrl":"sse\/[\w-]+"\}\n\n/,
      );
    },
  );
});
