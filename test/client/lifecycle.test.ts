/**
 * What a user observes about the connection's life: fatal codes end it with a reason, retryable ones do
 * not, a silent path is detected by heartbeats, a double connect opens one socket, the offline buffer
 * applies its overflow policy.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Client, createClient } from '../../src/client/index.ts';
import { CloseCode } from '../../src/close-codes.ts';
import { isSwitchyardError } from '../../src/errors.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { startTestServer, type TestServer, until } from './harness.ts';
import { TcpRelay } from './relay.ts';

let server: TestServer | undefined;
let relay: TcpRelay | undefined;
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.dispose();
  await relay?.close();
  await server?.close();
  relay = undefined;
  server = undefined;
});

function track<T extends Client>(c: T): T {
  clients.push(c);
  return c;
}

describe('fatal and retryable close codes', () => {
  it('a refused token (Unauthorized 4001) stops retrying and says why', async () => {
    let hellos = 0;
    server = await startTestServer({
      protocol: {
        authenticate: (hello) => {
          hellos++;
          return hello.token === 'good'
            ? null
            : {
                status: 401,
                closeCode: CloseCode.Unauthorized,
                code: 'ERR_UNAUTHORIZED',
                message: 'bad token',
              };
        },
      },
    });
    const c = track(
      createClient({
        url: server.url,
        transports: nodeTransports,
        token: () => 'forged',
        rememberRung: false,
        backoff: { baseMs: 5, maxMs: 20 },
      }),
    );
    const errors: string[] = [];
    c.on('error', (e) => errors.push(e.code));
    const published = c.publish('t', 1);
    const outcome = await c.connect().then(
      () => 'connected',
      (e: unknown) => (isSwitchyardError(e, 'ERR_DISCONNECTED') ? e.closeCode : 'other'),
    );
    expect(outcome).toBe(CloseCode.Unauthorized);
    expect(c.state).toBe('disconnected');
    expect(c.closeInfo).toMatchObject({
      code: 4001,
      name: 'Unauthorized',
      retry: 'never',
      reason: 'bad token',
    });
    expect(errors).toContain('ERR_DISCONNECTED');
    await expect(published).rejects.toMatchObject({ code: 'ERR_DISCONNECTED' });
    // Several backoff periods later nothing was retried.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(hellos).toBe(1);
    expect(c.state).toBe('disconnected');
  });

  it('an expired token (TokenExpired 4002) is retried with a fresh token', async () => {
    const seen: (string | undefined)[] = [];
    server = await startTestServer({
      protocol: {
        authenticate: (hello) => {
          seen.push(hello.token);
          return hello.token === 't2'
            ? null
            : {
                status: 401,
                closeCode: CloseCode.TokenExpired,
                code: 'ERR_TOKEN_EXPIRED',
                message: 'expired',
              };
        },
      },
    });
    let n = 0;
    const c = track(
      createClient({
        url: server.url,
        transports: nodeTransports,
        token: async () => `t${++n}`,
        rememberRung: false,
        backoff: { baseMs: 5, maxMs: 20 },
      }),
    );
    await c.connect();
    expect(seen).toEqual(['t1', 't2']);
    expect(c.rung).toBe('websocket');
  });

  it('gives up after backoff.maxAttempts failed rounds', async () => {
    // A port with nothing listening: every negotiate fails at once.
    server = await startTestServer();
    const deadUrl = server.url;
    await server.close();
    server = undefined;
    const c = track(
      createClient({
        url: deadUrl,
        transports: nodeTransports,
        rememberRung: false,
        backoff: { baseMs: 1, maxMs: 5, maxAttempts: 3 },
      }),
    );
    const negotiations: boolean[] = [];
    c.on('attempt', (a) => {
      if (a.kind === 'negotiate') negotiations.push(a.ok);
    });
    await expect(c.connect()).rejects.toMatchObject({ code: 'ERR_DISCONNECTED' });
    expect(negotiations).toEqual([false, false, false]);
    expect(c.closeInfo?.reason).toMatch(/gave up after 3 failed attempts/);
  });
});

describe('heartbeat', () => {
  it('detects a path that silently stops forwarding (no FIN, no RST) and reconnects', async () => {
    const heartbeatMs = 150;
    server = await startTestServer({ heartbeatMs });
    relay = await TcpRelay.start(server.server.port);
    const c = track(
      createClient({
        url: relay.url,
        transports: nodeTransports,
        rememberRung: false,
        backoff: { baseMs: 5 },
      }),
    );
    const sub = c.subscribe('beat');
    await c.connect();
    await until(() => sub.lastSeq !== undefined, 'subscribed');
    const frozenAt = Date.now();
    let detectedAt = 0;
    let lostWith: unknown;
    c.on('state', (s) => {
      if (s === 'reconnecting' && detectedAt === 0) {
        detectedAt = Date.now();
        lostWith = c.closeInfo;
      }
    });
    relay.freeze();
    await until(() => detectedAt > 0, 'heartbeat timeout');
    expect(lostWith).toMatchObject({ code: CloseCode.HeartbeatTimeout, retry: 'retry' });
    await until(() => c.state === 'connected', 'reconnected over a fresh connection');
    // Messages flow again on the new path, resumed from the old position.
    const got: number[] = [];
    c.on('message', (m) => {
      if (m.reliable) got.push(m.seq);
    });
    await server.hub.publish('beat', 'x');
    await until(() => got.length === 1, 'message after reconnect');
    console.info(
      `[heartbeat] interval=${heartbeatMs} ms, silent path detected after ${detectedAt - frozenAt} ms (${((detectedAt - frozenAt) / heartbeatMs).toFixed(2)} intervals)`,
    );
  });
});

describe('one socket per client', () => {
  it('a double connect() (and connect during connecting) opens a single connection', async () => {
    server = await startTestServer();
    relay = await TcpRelay.start(server.server.port);
    const c = track(
      createClient({ url: relay.url, transports: nodeTransports, rememberRung: false, autoConnect: false }),
    );
    await Promise.all([c.connect(), c.connect(), c.connect()]);
    await c.connect();
    expect(server.protocol.activeConnections).toBe(1);
    // negotiate (one HTTP connection, may be kept alive) + one WebSocket
    expect(server.server.app.registry.size).toBe(1);
  });
});

describe('offline send buffer', () => {
  it('reject-new: the publish over the bound rejects with ERR_BUFFER_FULL, queued ones are delivered later', async () => {
    server = await startTestServer();
    const c = track(
      createClient({
        url: server.url,
        transports: nodeTransports,
        rememberRung: false,
        autoConnect: false,
        buffer: { maxMessages: 3, overflow: 'reject-new' },
      }),
    );
    const kept = [c.publish('t', 1), c.publish('t', 2), c.publish('t', 3)];
    await expect(c.publish('t', 4)).rejects.toMatchObject({ code: 'ERR_BUFFER_FULL' });
    expect(c.pending).toBe(3);
    await c.connect();
    await Promise.all(kept);
    expect(server.received.map((r) => r.data)).toEqual([1, 2, 3]);
  });

  it('drop-oldest: the oldest queued publish is rejected to make room', async () => {
    server = await startTestServer();
    const c = track(
      createClient({
        url: server.url,
        transports: nodeTransports,
        rememberRung: false,
        autoConnect: false,
        buffer: { maxMessages: 2, overflow: 'drop-oldest' },
      }),
    );
    const first = c.publish('t', 1);
    const rest = [c.publish('t', 2), c.publish('t', 3)];
    await expect(first).rejects.toMatchObject({ code: 'ERR_BUFFER_FULL' });
    await c.connect();
    await Promise.all(rest);
    expect(server.received.map((r) => r.data)).toEqual([2, 3]);
  });

  it('the byte bound counts encoded size', async () => {
    const c = track(
      createClient({
        url: 'http://127.0.0.1:9',
        transports: nodeTransports,
        autoConnect: false,
        buffer: { maxBytes: 200 },
      }),
    );
    const small = c.publish('t', 'x'.repeat(50));
    await expect(c.publish('t', 'x'.repeat(150))).rejects.toMatchObject({ code: 'ERR_BUFFER_FULL' });
    expect(c.pending).toBe(1);
    c.close();
    await expect(small).rejects.toMatchObject({ code: 'ERR_DISCONNECTED' });
  });
});

describe('arguments that would cost the connection are refused up front', () => {
  it('publish of undefined data or a bad topic rejects; the connection stays up', async () => {
    server = await startTestServer();
    const c = track(createClient({ url: server.url, transports: nodeTransports, rememberRung: false }));
    await c.connect();
    await expect(c.publish('t', undefined)).rejects.toMatchObject({ code: 'ERR_INVALID_ENVELOPE' });
    await expect(c.publish('x'.repeat(5000), 1)).rejects.toMatchObject({ code: 'ERR_INVALID_ENVELOPE' });
    await expect(c.publish('', 1)).rejects.toMatchObject({ code: 'ERR_INVALID_ENVELOPE' });
    expect(() => c.subscribe('')).toThrow(/topic must be 1-256 characters/);
    await c.publish('t', null);
    expect(c.state).toBe('connected');
    expect(server.received.map((r) => r.data)).toEqual([null]);
  });

  it('connect() from a disconnected listener after giving up starts over', async () => {
    server = await startTestServer();
    const c = track(
      createClient({
        url: 'http://127.0.0.1:9',
        transports: nodeTransports,
        rememberRung: false,
        backoff: { baseMs: 1, maxMs: 2, maxAttempts: 1 },
        autoConnect: false,
      }),
    );
    let restarted = false;
    const negotiations: boolean[] = [];
    c.on('attempt', (a) => {
      if (a.kind === 'negotiate') negotiations.push(a.ok);
    });
    let secondGiveUp: () => void = () => undefined;
    const second = new Promise<void>((resolve) => {
      secondGiveUp = resolve;
    });
    c.on('state', (s) => {
      if (s !== 'disconnected') return;
      if (restarted) secondGiveUp();
      else {
        restarted = true;
        void c.connect().catch(() => undefined);
      }
    });
    await c.connect().catch(() => undefined);
    await second;
    // One failed round (maxAttempts 1) per run: the restart really ran the ladder again.
    expect(negotiations).toEqual([false, false]);
  });
});
