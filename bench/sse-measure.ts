/**
 * Quick local numbers for docs/transports/sse.md (not a test, not the benchmark): downstream push rate of
 * 64 B messages to the Node client, and upstream batched send rate, with the WebSocket rung in the same run
 * for a ratio. Run: npx tsx bench/sse-measure.ts
 */
import { startNodeServer } from '../server/node.ts';
import type { ServerConnection, Transport } from '../src/transport.ts';
import { createNodeSseTransport } from '../transports/sse/node.ts';
import { createNodeWebSocketTransport } from '../transports/websocket/node.ts';

const N = Number(process.env.N ?? 200_000);
const payload = 'x'.repeat(64);

async function run(rung: string, connect: (serverUrl: string) => Transport): Promise<void> {
  let connection: ServerConnection | undefined;
  let upstream = 0;
  let upstreamDone: () => void = () => {};
  const server = await startNodeServer({
    onConnection: (c) => {
      connection = c;
      c.on('message', () => {
        if (++upstream === N) upstreamDone();
      });
    },
  });
  const transport = connect(server.url);
  let received = 0;
  let downDone: () => void = () => {};
  transport.on('message', () => {
    if (++received === N) downDone();
  });
  await new Promise((resolve) => transport.on('open', resolve));
  while (!connection) await new Promise((resolve) => setTimeout(resolve, 5));

  const down = new Promise<void>((resolve) => {
    downDone = resolve;
  });
  let start = performance.now();
  // A producer that honours backpressure: awaits every send (it resolves at once below the high-water mark).
  for (let i = 0; i < N; i++) await connection.send(payload);
  await down;
  const downMs = performance.now() - start;

  const up = new Promise<void>((resolve) => {
    upstreamDone = resolve;
  });
  start = performance.now();
  for (let i = 0; i < N; i++) await transport.send(payload);
  await up;
  const upMs = performance.now() - start;
  console.log(
    JSON.stringify({
      rung,
      messages: N,
      bytes: 64,
      downstreamMsgsPerSec: Math.round(N / (downMs / 1000)),
      upstreamMsgsPerSec: Math.round(N / (upMs / 1000)),
    }),
  );
  transport.close();
  await server.close();
}

await run('sse', (url) => createNodeSseTransport({ url: `${url}/rt/sse` }));
await run('websocket', (url) => createNodeWebSocketTransport({ url: `${url.replace('http', 'ws')}/rt/ws` }));
