/**
 * Property: whatever a client sends after hello, the server answers with valid envelopes or closes with
 * BadEnvelope (4004), and keeps serving other clients. Random JSON values, random envelope-like objects.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '../../src/close-codes.ts';
import { parseEnvelope } from '../../src/envelope.ts';
import type { CloseEvent } from '../../src/transport.ts';
import { createNodeWebSocketTransport } from '../../transports/websocket/node.ts';
import { MemoryHub } from '../hub/memory.ts';
import { type RunningServer, startNodeServer } from '../node.ts';
import { createProtocol, type Protocol } from './index.ts';

let server: RunningServer;
let protocol: Protocol;
beforeAll(async () => {
  protocol = createProtocol({ hub: new MemoryHub(), heartbeatMs: 60_000 });
  server = await startNodeServer({ onConnection: protocol.onConnection });
});
afterAll(async () => {
  await server.close();
  protocol.close();
});

const envelopeLike = fc.record(
  {
    type: fc.constantFrom('hello', 'ping', 'pong', 'sub', 'unsub', 'pub', 'ack', 'msg', 'welcome', 'x'),
    id: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
    topic: fc.oneof(fc.string({ maxLength: 300 }), fc.integer()),
    since: fc.oneof(fc.nat(), fc.integer(), fc.double()),
    data: fc.jsonValue(),
    v: fc.nat(3),
  },
  { requiredKeys: ['type'] },
);

/** Sends frames after a valid hello; resolves with what came back and how (if) the connection ended. */
async function exchange(frames: string[]): Promise<{ replies: unknown[]; close: CloseEvent | undefined }> {
  const t = createNodeWebSocketTransport({ url: `${server.url.replace('http', 'ws')}/rt/ws` });
  const replies: unknown[] = [];
  let close: CloseEvent | undefined;
  t.on('message', (e) => replies.push(JSON.parse(e.data as string)));
  const closed = new Promise<void>((resolve) =>
    t.on('close', (e) => {
      close = e;
      resolve();
    }),
  );
  await new Promise<void>((resolve) => t.on('open', () => resolve()));
  await t.send(JSON.stringify({ type: 'hello', v: 1 }));
  for (const f of frames) await t.send(f).catch(() => undefined);
  await t.send(JSON.stringify({ type: 'ping', id: 424242 })).catch(() => undefined);
  // Either the final pong arrives (all frames handled) or the server closed.
  await Promise.race([
    closed,
    (async () => {
      while (!replies.some((r) => (r as { id?: unknown }).id === 424242))
        await new Promise((r) => setTimeout(r, 2));
    })(),
  ]);
  if (!close) t.close();
  return { replies, close };
}

describe('protocol fuzz', () => {
  it('answers with valid envelopes or closes with BadEnvelope; never anything else', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.jsonValue().map((v) => JSON.stringify(v)),
            envelopeLike.map((v) => JSON.stringify(v)),
            fc.string(),
          ),
          {
            maxLength: 6,
          },
        ),
        async (frames) => {
          const { replies, close } = await exchange(frames);
          for (const r of replies) expect(() => parseEnvelope(r)).not.toThrow();
          if (close) expect(close.code).toBe(CloseCode.BadEnvelope);
        },
      ),
      { numRuns: 60 },
    );
    // Still serving.
    const { replies, close } = await exchange([]);
    expect(close).toBeUndefined();
    expect(replies.at(-1)).toEqual({ type: 'pong', id: 424242 });
  });
});
