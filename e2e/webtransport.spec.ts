/**
 * The WebTransport rung in real browsers over native HTTP/3 (the Deno binding): channels on their own
 * streams, datagrams, close codes both ways, and a server restart. Also measures the round trip of each rung
 * from the browser on loopback (printed, not asserted: the machine is shared).
 */
import { bundleForBrowser } from '../server/demo/bundle.ts';
import { type DenoServer, launchDenoServer } from '../server/deno/launch.ts';
import { expect, test } from './fixtures.ts';

let bundle: string;
let server: DenoServer;

async function startEcho(port = 0): Promise<DenoServer> {
  process.env.SWITCHYARD_APP = 'echo';
  try {
    return await launchDenoServer({ port, bundle });
  } finally {
    delete process.env.SWITCHYARD_APP;
  }
}

test.beforeAll(async () => {
  bundle = await bundleForBrowser({
    contents: `
      import { createWebTransportTransport } from './transports/webtransport/client.ts';
      import { createWebSocketTransport } from './transports/websocket/client.ts';
      import { createSseTransport } from './transports/sse/client.ts';
      import { parseNegotiateResponse } from './src/negotiate.ts';
      // What /rt/negotiate offers, its (relative) URLs resolved against where it was fetched.
      const offers = async () => {
        const url = new URL('/rt/negotiate', location.href).href;
        return parseNegotiateResponse(await (await fetch(url)).json(), url).transports;
      };
      window.sy = { createWebTransportTransport, createWebSocketTransport, createSseTransport, offers };
    `,
  });
  server = await startEcho();
});

test.afterAll(async () => {
  await server?.close();
});

type Page = import('@playwright/test').Page;

/** Opens a WebTransport transport in the page, stores it as window.t, and collects its events. */
async function openWebTransport(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.waitForFunction(() => 'sy' in window);
  const outcome = await page.evaluate(async () => {
    type T = {
      on(type: string, listener: (event: unknown) => void): void;
      send(data: unknown, options?: object): Promise<void>;
      close(code?: number, reason?: string): void;
      capabilities: object;
    };
    const w = window as unknown as {
      sy: { createWebTransportTransport(o: object): T };
      t: T;
      messages: { data: unknown; channel: string; unreliable: boolean }[];
      closes: unknown[];
    };
    type Offer = { kind: string; url: string; certificateHashes: unknown };
    const offers = await (window as unknown as { sy: { offers(): Promise<Offer[]> } }).sy.offers();
    const offer = offers.find((t) => t.kind === 'webtransport')!;
    w.messages = [];
    w.closes = [];
    w.t = w.sy.createWebTransportTransport({ url: offer.url, certificateHashes: offer.certificateHashes });
    w.t.on('message', (m) => {
      const e = m as { data: unknown; channel: string; unreliable: boolean };
      w.messages.push({
        data: typeof e.data === 'string' ? e.data : Array.from(e.data as Uint8Array),
        channel: e.channel,
        unreliable: e.unreliable,
      });
    });
    w.t.on('close', (e) => w.closes.push(e));
    return new Promise<string>((resolve) => {
      w.t.on('open', () => resolve('open'));
      w.t.on('close', (e) => resolve(`closed ${JSON.stringify(e)}`));
    });
  });
  expect(outcome).toBe('open');
}

test('streams on several channels, datagrams, and close codes both ways', async ({ page }) => {
  await openWebTransport(page, server.url);
  const capabilities = await page.evaluate(
    () => (window as unknown as { t: { capabilities: object } }).t.capabilities,
  );
  expect(capabilities).toMatchObject({ datagrams: true, independentStreams: true });

  await page.evaluate(async () => {
    const w = window as unknown as { t: { send(d: unknown, o?: object): Promise<void> } };
    await w.t.send('on alpha ☃', { channel: 'alpha' });
    await w.t.send(new Uint8Array([0, 1, 254, 255]), { channel: 'beta' });
    await w.t.send('lines\r\n\n', { channel: 'gamma' });
    for (let i = 0; i < 200; i++) await w.t.send(String(i), { channel: 'seq' });
    await w.t.send('dgram', { channel: 'dg', reliable: false });
  });
  const messages = () =>
    page.evaluate(
      () =>
        (window as unknown as { messages: { data: unknown; channel: string; unreliable: boolean }[] })
          .messages,
    );
  await expect.poll(async () => (await messages()).length).toBeGreaterThanOrEqual(203);
  const all = await messages();
  expect(all).toContainEqual({ data: 'on alpha ☃', channel: 'alpha', unreliable: false });
  expect(all).toContainEqual({ data: [0, 1, 254, 255], channel: 'beta', unreliable: false });
  expect(all).toContainEqual({ data: 'lines\r\n\n', channel: 'gamma', unreliable: false });
  expect(all.filter((m) => m.channel === 'seq').map((m) => Number(m.data))).toEqual(
    Array.from({ length: 200 }, (_, i) => i),
  );
  // A datagram may be lost on a real network; on loopback one of a few tries must come back.
  for (let i = 0; i < 5 && !(await messages()).some((m) => m.unreliable); i++) {
    await page.evaluate(() =>
      (window as unknown as { t: { send(d: unknown, o?: object): Promise<void> } }).t.send('dgram', {
        channel: 'dg',
        reliable: false,
      }),
    );
    await page.waitForTimeout(200);
  }
  expect(await messages()).toContainEqual({ data: 'dgram', channel: 'dg', unreliable: true });

  const oversize = await page.evaluate(async () => {
    const w = window as unknown as {
      t: { send(d: unknown, o?: object): Promise<void>; capabilities: { maxDatagramBytes: number } };
    };
    return w.t
      .send(new Uint8Array(w.t.capabilities.maxDatagramBytes + 1), { reliable: false })
      .then(() => 'sent')
      .catch((e: { code: string }) => e.code);
  });
  expect(oversize).toBe('ERR_DATAGRAM_TOO_BIG');

  // Server-initiated close: code and reason arrive.
  await page.evaluate(() =>
    (window as unknown as { t: { send(d: unknown, o?: object): Promise<void> } }).t.send(
      'close:4567:server bye',
      {
        channel: 'ctl',
      },
    ),
  );
  await expect
    .poll(() => page.evaluate(() => (window as unknown as { closes: unknown[] }).closes))
    .toEqual([{ code: 4567, reason: 'server bye', wasClean: true }]);

  // Client-initiated close on a new session.
  await openWebTransport(page, server.url);
  await page.evaluate(() =>
    (window as unknown as { t: { close(c: number, r: string): void } }).t.close(4321, 'client bye'),
  );
  await expect
    .poll(() => page.evaluate(() => (window as unknown as { closes: unknown[] }).closes))
    .toEqual([{ code: 4321, reason: 'client bye', wasClean: true }]);
});

test('a server restart closes the session with 1001 and a new session works', async ({ page }) => {
  const own = await startEcho();
  const port = own.port;
  await openWebTransport(page, own.url);
  await own.close();
  await expect
    .poll(() =>
      page.evaluate(() => (window as unknown as { closes: { code: number }[] }).closes.map((c) => c.code)),
    )
    .toEqual([1001]);
  const again = await startEcho(port);
  try {
    await openWebTransport(page, again.url);
    await page.evaluate(() =>
      (window as unknown as { t: { send(d: unknown, o?: object): Promise<void> } }).t.send('after restart'),
    );
    await expect
      .poll(() =>
        page.evaluate(() =>
          (window as unknown as { messages: { data: unknown }[] }).messages.map((m) => m.data),
        ),
      )
      .toEqual(['after restart']);
  } finally {
    await again.close();
  }
});

test('round trip per rung from the browser on loopback (measured, reported)', async ({
  page,
  browserName,
}) => {
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => 'sy' in window);
  const rtts = await page.evaluate(async () => {
    type T = {
      on(type: string, listener: (event: unknown) => void): void;
      send(data: unknown, options?: object): Promise<void>;
      close(): void;
    };
    const sy = (window as unknown as { sy: Record<string, (o: object) => T> }).sy;
    const offers = (await (window as unknown as { sy: { offers(): Promise<unknown> } }).sy.offers()) as {
      kind: string;
      url: string;
      certificateHashes?: unknown;
    }[];
    const factories: Record<string, string> = {
      webtransport: 'createWebTransportTransport',
      websocket: 'createWebSocketTransport',
      sse: 'createSseTransport',
    };
    const out: Record<string, number> = {};
    for (const offer of offers) {
      const t = sy[factories[offer.kind]!]!({ url: offer.url, certificateHashes: offer.certificateHashes });
      await new Promise<void>((resolve) => t.on('open', () => resolve()));
      const samples: number[] = [];
      let resolveOne: () => void = () => {};
      t.on('message', () => resolveOne());
      for (let i = 0; i < 60; i++) {
        const start = performance.now();
        await new Promise<void>((resolve) => {
          resolveOne = resolve;
          void t.send('x');
        });
        if (i >= 10) samples.push(performance.now() - start);
      }
      samples.sort((a, b) => a - b);
      out[offer.kind] = Number(samples[Math.floor(samples.length / 2)]!.toFixed(3));
      t.close();
    }
    return out;
  });
  console.log(`[${browserName}] echo round trip p50 (ms) per rung on loopback: ${JSON.stringify(rtts)}`);
  expect(Object.keys(rtts).sort()).toEqual(['sse', 'websocket', 'webtransport']);
});
