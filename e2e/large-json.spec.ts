/**
 * Large JSON documents through the Deno binding on every rung, in real browsers: published by the page, fanned
 * out by the server, compared with what was sent. Over WebTransport on native HTTP/3 a large JSON message reaches the
 * protocol as its bytes and goes back out as a Utf8Text copied into one stream frame (docs/protocol.md, "Large JSON
 * messages"), crossing many QUIC stream chunks split wherever QUIC splits them (inside characters too); only this
 * spec sees that path end to end. WebSocket (strings on Deno) and SSE on the same server are the comparison. Every
 * UTF-8 length is in the documents.
 */
import { bundleForBrowser } from '../server/demo/bundle.ts';
import { type DenoServer, launchDenoServer } from '../server/deno/launch.ts';
import { expect, test } from './fixtures.ts';

let server: DenoServer;

test.beforeAll(async () => {
  const bundle = await bundleForBrowser({
    contents: `
      import { pinnedClient } from './e2e/support/pinned-client.ts';
      window.sy = { pinnedClient };
    `,
  });
  server = await launchDenoServer({ bundle });
});

test.afterAll(async () => {
  await server?.close();
});

for (const kind of ['webtransport', 'websocket', 'sse'] as const) {
  test(`${kind}: large JSON documents (70 KiB and 600 KiB, 1- to 4-byte characters) come back intact`, async ({
    page,
  }) => {
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => 'sy' in window);
    const outcome = await page.evaluate(async (kind) => {
      type Message = { topic: string; data: unknown };
      type Client = {
        rung: string | null;
        subscribe(topic: string): { lastSeq: number | undefined };
        publish(topic: string, data: unknown): Promise<void>;
        connect(): Promise<void>;
        on(type: 'message', listener: (m: Message) => void): () => void;
        dispose(): void;
      };
      const sy = (window as unknown as { sy: { pinnedClient(kind: string): Promise<Client> } }).sy;
      const client = await sy.pinnedClient(kind);
      const topic = `echo.large.${Math.random().toString(36).slice(2, 10)}`;
      const sub = client.subscribe(topic);
      const got: unknown[] = [];
      client.on('message', (m) => {
        if (m.topic === topic) got.push(m.data);
      });
      await client.connect();
      while (sub.lastSeq === undefined) await new Promise((r) => setTimeout(r, 5));
      // 1, 2, 3 and 4 UTF-8 bytes per character, repeated so that chunk boundaries land inside characters.
      const mixed = 'a\u00e9\u2603\u{1f600}';
      const docs = [
        {
          title: '\u00fcn\u00efc\u00f8d\u00e9 \u2603 \u65e5\u672c\u8a9e \u{1f600}',
          body: `line one\nline two\t"quoted"\\${mixed.repeat(7_000)}`,
          rows: Array.from({ length: 500 }, (_, i) => ({ i, ok: i % 2 === 0, v: i / 7 })),
        },
        { body: mixed.repeat(64_000), tail: ['\u0000', '\u2028', 'end'] },
      ];
      for (const doc of docs) await client.publish(topic, doc);
      for (let tries = 0; got.length < docs.length && tries < 1000; tries++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      const rung = client.rung;
      client.dispose();
      return {
        rung,
        received: got.length,
        same: got.map((g, i) => JSON.stringify(g) === JSON.stringify(docs[i])),
        sizes: docs.map((d) => new TextEncoder().encode(JSON.stringify(d)).byteLength),
      };
    }, kind);
    expect(outcome.rung).toBe(kind);
    expect(outcome.received).toBe(2);
    expect(outcome.same).toEqual([true, true]);
    // The documents are as large as the title says (the second one well past WebTransport's first chunks).
    expect(outcome.sizes[0]).toBeGreaterThan(70 * 1024);
    expect(outcome.sizes[1]).toBeGreaterThan(600 * 1024);
  });
}
