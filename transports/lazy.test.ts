/**
 * Rungs whose code is loaded on first use: `browserTransports` returns a promise of the WebTransport and SSE
 * transports (a dynamic import), and the client awaits it inside the attempt's budget. A load that fails is a
 * failed attempt (the client goes on down the ladder); one that arrives after the attempt was given up is
 * closed at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type AttemptEvent, type Client, createClient, type RungFactory } from '../src/client/index.ts';
import type { Transport } from '../src/transport.ts';
import { startTestServer, type TestServer } from '../test/client/harness.ts';
import { nodeTransports } from './index.node.ts';

const globals = globalThis as { WebTransport?: unknown; EventSource?: unknown };
let server: TestServer | undefined;
const clients: Client[] = [];
afterEach(async () => {
  delete globals.WebTransport;
  delete globals.EventSource;
  for (const c of clients.splice(0)) c.dispose();
  await server?.close();
  server = undefined;
});

describe('browserTransports: the lazily loaded rungs', () => {
  it('resolve to the real rungs, loaded by a dynamic import', async () => {
    const { browserTransports } = await import('./index.browser.ts');
    const { SSE_CAPABILITIES } = await import('./sse/encoder.ts');
    globals.EventSource = class {
      readyState = 0;
      addEventListener() {}
      close() {}
    };
    const never = new Promise<never>(() => undefined);
    globals.WebTransport = class {
      ready = never;
      closed = never;
      datagrams = { maxDatagramSize: 1200 };
      close() {}
    };
    const sse = browserTransports.sse!({
      offer: { kind: 'sse', url: 'http://h/rt/sse', postUrl: 'http://h/rt/sse/{session}' },
      url: 'http://h/rt/sse',
    });
    const wt = browserTransports.webtransport!({
      offer: { kind: 'webtransport', url: 'https://h/rt/wt' },
      url: 'https://h/rt/wt',
    });
    expect(sse).toBeInstanceOf(Promise);
    expect(wt).toBeInstanceOf(Promise);
    const [s, w] = await Promise.all([sse, wt]);
    expect([s.kind, s.state, w.kind, w.state]).toEqual(['sse', 'connecting', 'webtransport', 'connecting']);
    expect(s.capabilities).toBe(SSE_CAPABILITIES);
    expect(w.capabilities).toMatchObject({
      datagrams: true,
      independentStreams: true,
      maxDatagramBytes: 1198,
    });
    s.close();
    w.close();
  });

  it('a browser without WebTransport fails at once, without loading the rung', async () => {
    const { browserTransports } = await import('./index.browser.ts');
    expect(() =>
      browserTransports.webtransport!({
        offer: { kind: 'webtransport', url: 'https://h/' },
        url: 'https://h/',
      }),
    ).toThrowError(expect.objectContaining({ code: 'ERR_UNSUPPORTED' }));
  });
});

describe('the client with a factory that returns a promise', () => {
  async function connect(webtransport: RungFactory): Promise<AttemptEvent[]> {
    server = await startTestServer({
      server: { extraOffers: () => [{ kind: 'webtransport', url: 'https://127.0.0.1:1/wt' }] },
    });
    const c = createClient({
      url: server.url,
      transports: { webtransport, websocket: nodeTransports.websocket as RungFactory },
      rememberRung: false,
      climb: false,
      connectTimeoutMs: { webtransport: 100 },
    });
    clients.push(c);
    const attempts: AttemptEvent[] = [];
    c.on('attempt', (a) => attempts.push(a));
    await c.connect();
    expect(c.rung).toBe('websocket');
    return attempts.filter((a) => a.kind === 'webtransport');
  }

  it('a load that fails is a failed attempt, and the client goes on to the next rung', async () => {
    const attempts = await connect(() => Promise.reject(new Error('chunk 404')));
    expect(attempts.map((a) => [a.ok, a.error])).toEqual([[false, 'webtransport: chunk 404']]);
  });

  it('a load that outlives the attempt: the transport is closed as soon as it arrives', async () => {
    let arrive: (t: Transport) => void = () => undefined;
    const attempts = await connect(() => new Promise((resolve) => (arrive = resolve)));
    expect(attempts.map((a) => [a.ok, a.error])).toEqual([
      [false, 'webtransport: no working connection within 100 ms'],
    ]);
    const closed: unknown[] = [];
    const late = { close: (...args: unknown[]) => closed.push(args) } as unknown as Transport;
    arrive(late);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(closed).toEqual([[]]);
  });
});
