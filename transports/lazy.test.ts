/** The lazily loaded rung: connecting until loaded, then the real transport's state, events and sends. */
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionCore } from '../src/connection-core.ts';
import type { Transport, TransportCapabilities } from '../src/transport.ts';
import { lazyTransport } from './lazy.ts';

const CAPS: TransportCapabilities = {
  datagrams: true,
  independentStreams: true,
  binary: true,
  upstream: 'native',
};

/** A transport driven by hand: `core` decides its state and events. */
function fake(): { transport: Transport; core: ConnectionCore; sent: unknown[]; closed: unknown[] } {
  const core = new ConnectionCore();
  const sent: unknown[] = [];
  const closed: unknown[] = [];
  const transport: Transport = {
    kind: 'webtransport',
    capabilities: { ...CAPS, maxDatagramBytes: 1200 },
    get state() {
      return core.state;
    },
    bufferedAmount: 7,
    send: async (data) => void sent.push(data),
    close: (code, reason) => {
      closed.push([code, reason]);
      core.markClosed(code ?? 1000, reason ?? '', true);
    },
    on: (type, listener) => core.events.on(type, listener),
  };
  return { transport, core, sent, closed };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('lazyTransport', () => {
  it('is connecting with the given capabilities until loaded, then forwards everything', async () => {
    const real = fake();
    let resolveLoad: (t: Transport) => void = () => undefined;
    const lazy = lazyTransport('webtransport', CAPS, () => new Promise((resolve) => (resolveLoad = resolve)));
    const events: string[] = [];
    lazy.on('open', () => events.push('open'));
    lazy.on('message', (m) => events.push(`message ${m.data}`));
    lazy.on('close', (c) => events.push(`close ${c.code}`));
    expect(lazy.state).toBe('connecting');
    expect(lazy.capabilities).toBe(CAPS);
    await expect(lazy.send('x')).rejects.toMatchObject({ code: 'ERR_NOT_OPEN' });
    resolveLoad(real.transport);
    await tick();
    expect(lazy.capabilities.maxDatagramBytes).toBe(1200);
    real.core.markOpen();
    expect(lazy.state).toBe('open');
    expect(lazy.bufferedAmount).toBe(7);
    real.core.events.emit('message', { data: 'hi', channel: '', unreliable: false });
    await lazy.send('up');
    expect(real.sent).toEqual(['up']);
    lazy.close(4000, 'bye');
    expect(real.closed).toEqual([[4000, 'bye']]);
    expect(events).toEqual(['open', 'message hi', 'close 4000']);
    expect(lazy.state).toBe('closed');
  });

  it('closed while loading: reports the close once and closes the real one when it arrives', async () => {
    const real = fake();
    let resolveLoad: (t: Transport) => void = () => undefined;
    const lazy = lazyTransport('webtransport', CAPS, () => new Promise((resolve) => (resolveLoad = resolve)));
    const closes: number[] = [];
    lazy.on('close', (c) => closes.push(c.code));
    expect(() => lazy.close(1005)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_CLOSE_CODE' }));
    lazy.close();
    expect(lazy.state).toBe('closed');
    resolveLoad(real.transport);
    await tick();
    expect(real.closed).toHaveLength(1);
    expect(closes).toEqual([1006]);
    await expect(lazy.send('x')).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('a failed load is an error and a close 1006 naming the cause', async () => {
    const lazy = lazyTransport('webtransport', CAPS, () => Promise.reject(new Error('chunk 404')));
    const seen: string[] = [];
    lazy.on('error', (e) => seen.push(`error ${e.code}`));
    lazy.on('close', (c) => seen.push(`close ${c.code} ${c.reason}`));
    await tick();
    expect(seen).toEqual(['error ERR_TRANSPORT', 'close 1006 webtransport could not be loaded: chunk 404']);
  });
});

describe('browserTransports: the lazily loaded rungs', () => {
  const globals = globalThis as { WebTransport?: unknown; EventSource?: unknown };
  afterEach(() => {
    delete globals.WebTransport;
    delete globals.EventSource;
  });

  it('declare before loading the capabilities the real rung has once loaded', async () => {
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
    const before = [sse.capabilities, wt.capabilities];
    expect(before[0]).toEqual(SSE_CAPABILITIES);
    await until(() => sse.capabilities !== before[0] && wt.capabilities !== before[1]);
    expect(sse.capabilities).toBe(SSE_CAPABILITIES);
    const { maxDatagramBytes, ...loaded } = wt.capabilities;
    expect(loaded).toEqual(before[1]);
    expect(maxDatagramBytes).toBe(1198);
    sse.close();
    wt.close();
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

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
}
