/**
 * Hostile input against a real server: wrong origins, missing / forged / replayed / expired / foreign tokens,
 * floods, too many connections, a slow consumer, and secrets in logs. Each asserts the documented refusal.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { MemoryHub } from '../../server/hub/memory.ts';
import { type NodeServerOptions, type RunningServer, startNodeServer } from '../../server/node.ts';
import { createProtocol } from '../../server/protocol/index.ts';
import { createSecurity, type SecurityOptions } from '../../server/security/index.ts';
import { CloseCode } from '../../src/close-codes.ts';
import type { CloseEvent, ServerConnection, Transport } from '../../src/transport.ts';
import { createNodeSseTransport } from '../../transports/sse/node.ts';
import { createNodeWebSocketTransport } from '../../transports/websocket/node.ts';

const EVIL = 'http://evil.example';

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(
  security: SecurityOptions,
  extra: Partial<NodeServerOptions> = {},
  raw = false, // hand connections to the test only, without the protocol handler
) {
  const sec = createSecurity(security);
  const protocol = createProtocol({ hub: new MemoryHub(), authenticate: sec.authenticateHello });
  const connections: ServerConnection[] = [];
  const logs: string[] = [];
  server = await startNodeServer({
    onConnection: (c) => {
      connections.push(c);
      if (!raw) protocol.onConnection(c);
    },
    security: sec,
    log: (line) => logs.push(line),
    ...extra,
  });
  return { url: server.url, sec, connections, logs };
}

/** Opens a raw `ws` upgrade and reports the HTTP status of a refusal, or 101. */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/rt/ws`, { headers });
    ws.on('upgrade', () => {
      resolve(101);
      ws.close();
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => {});
  });
}

const closed = (t: Transport) => new Promise<CloseEvent>((resolve) => t.on('close', resolve));

async function hello(t: Transport, token?: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    t.on('open', () => resolve());
    t.on('close', (e) => reject(new Error(`closed ${e.code}`)));
  });
  // A welcome, or the close that follows a refusal (the `error` envelope before it is not the answer).
  const reply = new Promise<string>((resolve) => {
    t.on('message', (m) => {
      if (String(m.data).includes('"welcome"')) resolve(String(m.data));
    });
    t.on('close', (e) => resolve(`close ${e.code}`));
  });
  await t.send(JSON.stringify({ type: 'hello', v: 1, ...(token ? { token } : {}) }));
  return reply;
}

async function issueToken(url: string, origin?: string): Promise<string> {
  const response = await fetch(`${url}/rt/token`, { method: 'POST', headers: origin ? { origin } : {} });
  expect(response.status).toBe(200);
  return ((await response.json()) as { token: string }).token;
}

describe('origin allow-list on every rung', () => {
  it('refuses a foreign Origin on the WebSocket upgrade, the SSE GET and the upstream POST with 403', async () => {
    const { url } = await start({ allowedOrigins: ['http://app.example'] });
    expect(await upgradeStatus(url, { origin: EVIL })).toBe(403);
    expect(await upgradeStatus(url, { origin: 'http://app.example' })).toBe(101);
    expect(await upgradeStatus(url, { origin: url })).toBe(101); // same origin
    const sse = await fetch(`${url}/rt/sse`, { headers: { origin: EVIL } });
    expect(sse.status).toBe(403);
    expect(await sse.json()).toMatchObject({
      error: 'ERR_FORBIDDEN_ORIGIN',
      closeCode: CloseCode.ForbiddenOrigin,
    });
    const post = await fetch(`${url}/rt/sse/any`, { method: 'POST', headers: { origin: EVIL } });
    expect(post.status).toBe(403);
    const token = await fetch(`${url}/rt/token`, { method: 'POST', headers: { origin: EVIL } });
    expect(token.status).toBe(403);
  });

  it('the Node SSE client reports a refused origin as ForbiddenOrigin (4003), which is not retried', async () => {
    const { url } = await start({});
    const t = createNodeSseTransport({ url: `${url}/rt/sse`, headers: { origin: EVIL } });
    expect((await closed(t)).code).toBe(CloseCode.ForbiddenOrigin);
  });
});

describe('short-lived single-use tokens', () => {
  it('names the token endpoint in /rt/negotiate when tokens are required', async () => {
    const { url } = await start({ requireTokens: true });
    const negotiate = (await (await fetch(`${url}/rt/negotiate`)).json()) as { tokenUrl?: string };
    // Relative to the negotiate URL, like every URL in it (a proxy in front may use another host).
    expect(negotiate.tokenUrl).toBe('token');
    expect(new URL(negotiate.tokenUrl!, `${url}/rt/negotiate`).href).toBe(`${url}/rt/token`);
  });

  it('WebSocket: the token goes in the first message; none, forged or replayed closes 4001', async () => {
    const { url } = await start({ requireTokens: true });
    const ws = () => createNodeWebSocketTransport({ url: `${url.replace('http', 'ws')}/rt/ws` });
    expect(await hello(ws())).toContain(`close ${CloseCode.Unauthorized}`);
    const token = await issueToken(url);
    expect(JSON.parse(await hello(ws(), token))).toMatchObject({ type: 'welcome' });
    expect(await hello(ws(), token)).toContain(`close ${CloseCode.Unauthorized}`); // replay
    const forged = `${token.slice(0, -4)}AAAA`;
    expect(await hello(ws(), forged)).toContain(`close ${CloseCode.Unauthorized}`);
  });

  it('SSE: the token is the `token` URL parameter (EventSource sends no headers); refusals are 401', async () => {
    const { url } = await start({ requireTokens: true });
    expect((await fetch(`${url}/rt/sse`)).status).toBe(401);
    const token = await issueToken(url);
    const ok = createNodeSseTransport({ url: `${url}/rt/sse?token=${encodeURIComponent(token)}` });
    expect(JSON.parse(await hello(ok))).toMatchObject({ type: 'welcome' }); // the hello repeats the token: not a replay
    const replay = await fetch(`${url}/rt/sse?token=${encodeURIComponent(token)}`);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({
      error: 'ERR_UNAUTHORIZED',
      closeCode: CloseCode.Unauthorized,
    });
    ok.close();
  });

  it('an expired token is refused with TokenExpired (4002, retryable with a fresh token)', async () => {
    let now = Date.now();
    const { url } = await start({ requireTokens: true, tokens: { ttlSeconds: 5, now: () => now } });
    const token = await issueToken(url);
    now += 10_000;
    const response = await fetch(`${url}/rt/sse?token=${encodeURIComponent(token)}`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({
      error: 'ERR_TOKEN_EXPIRED',
      closeCode: CloseCode.TokenExpired,
    });
  });

  it('a token issued to one origin is refused from another', async () => {
    const { url } = await start({
      requireTokens: true,
      allowedOrigins: ['http://a.example', 'http://b.example'],
    });
    const token = await issueToken(url, 'http://a.example');
    const response = await fetch(`${url}/rt/sse?token=${encodeURIComponent(token)}`, {
      headers: { origin: 'http://b.example' },
    });
    expect(response.status).toBe(401);
  });

  it('never writes tokens or session secrets to the logs', async () => {
    const { url, logs } = await start({ requireTokens: true });
    const captured: string[] = [];
    const original = { log: console.log, error: console.error, warn: console.warn };
    for (const key of ['log', 'error', 'warn'] as const) {
      console[key] = (...args: unknown[]) => captured.push(args.map(String).join(' '));
    }
    const secrets: string[] = [];
    try {
      const token = await issueToken(url);
      secrets.push(token);
      const stream = await fetch(`${url}/rt/sse?token=${encodeURIComponent(token)}`);
      const reader = stream.body!.getReader();
      let text = '';
      const sessionBlock = () => text.split('\n\n').find((block) => block.includes('event: session'));
      while (!sessionBlock()) text += new TextDecoder().decode((await reader.read()).value);
      const data = sessionBlock()!
        .split('\n')
        .find((line) => line.startsWith('data: '))!
        .slice(6);
      const session = JSON.parse(data) as { secret: string; id: string };
      secrets.push(session.secret);
      await reader.cancel();
    } finally {
      Object.assign(console, original);
    }
    const everything = [...logs, ...captured].join('\n');
    expect(logs.some((l) => l.includes('/rt/sse?token=[redacted]'))).toBe(true);
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });
});

describe('limits', () => {
  it('closes a flooding connection with RateLimited (4029) and says when to retry', async () => {
    await start({ connections: { messagesPerSecond: 50, messageBurst: 100 } });
    const t = createNodeWebSocketTransport({ url: `${server!.url.replace('http', 'ws')}/rt/ws` });
    expect(JSON.parse(await hello(t))).toMatchObject({ type: 'welcome' });
    const done = closed(t);
    for (let i = 0; i < 500; i++) t.send(JSON.stringify({ type: 'ping', id: i })).catch(() => {});
    const event = await done;
    expect(event.code).toBe(CloseCode.RateLimited);
    expect(event.reason).toMatch(/retry after \d+ ms/);
  });

  it('refuses connections over the per-IP cap (429 before the handshake)', async () => {
    const { url } = await start({ connections: { maxConnectionsPerIp: 3 } });
    const open: Transport[] = [];
    for (let i = 0; i < 3; i++) {
      const t = createNodeWebSocketTransport({ url: `${url.replace('http', 'ws')}/rt/ws` });
      await new Promise((resolve) => t.on('open', resolve));
      open.push(t);
    }
    expect(await upgradeStatus(url, {})).toBe(429);
    const sse = await fetch(`${url}/rt/sse`);
    expect(sse.status).toBe(429);
    expect(sse.headers.get('retry-after')).toBeTruthy();
    for (const t of open) t.close();
  });

  it('cuts off a slow consumer (4008) with bounded server memory while another client keeps receiving', async () => {
    const { connections } = await start({ connections: { maxBufferedBytes: 2 * 1024 * 1024 } }, {}, true);
    const base = server!.url.replace('http', 'ws');
    // The slow client: a raw socket that stops reading right after the handshake.
    const slow = new WebSocket(`${base}/rt/ws`);
    await new Promise((resolve) => slow.on('open', resolve));
    (slow as unknown as { _socket: { pause(): void } })._socket.pause();
    const good = createNodeWebSocketTransport({ url: `${base}/rt/ws` });
    await new Promise((resolve) => good.on('open', resolve));
    let goodReceived = 0;
    good.on('message', () => goodReceived++);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const [slowConn, goodConn] = connections;
    const slowClosed = new Promise<CloseEvent>((resolve) => slowConn!.on('close', resolve));
    const chunk = new Uint8Array(64 * 1024);
    const rssBefore = process.memoryUsage().rss;
    let peakRss = rssBefore;
    // Publish ~64 MiB towards each client as fast as the server will take it.
    for (let i = 0; i < 1024 && slowConn!.state === 'open'; i++) {
      slowConn!.send(chunk).catch(() => {});
      await goodConn!.send(chunk);
      if (i % 32 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
    const event = await Promise.race([
      slowClosed,
      new Promise<null>((r) => setTimeout(() => r(null), 10_000)),
    ]);
    expect(event?.code ?? slowConn!.state).not.toBe('open');
    for (let i = 0; i < 50; i++) await goodConn!.send(chunk);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(goodReceived).toBeGreaterThan(50);
    expect(goodConn!.state).toBe('open');
    // The slow client's queue was bounded: far less than the 64 MiB published at it (generous bound).
    expect(peakRss - rssBefore).toBeLessThan(48 * 1024 * 1024);
    console.log(
      `slow consumer: closed with ${event?.code}; server RSS growth ${((peakRss - rssBefore) / 1048576).toFixed(1)} MiB`,
    );
    slow.terminate();
    good.close();
  });
});
