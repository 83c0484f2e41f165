/**
 * Numbers for the report and docs/client.md (not a test: timings are never asserted). Run:
 *   npx tsx test/client/measure-client.ts
 * Loopback, one process for server and client, so absolute figures only compare runs on one machine.
 */
import { type Client, createClient } from '../../src/client/index.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { startTestServer } from './harness.ts';
import { TcpRelay } from './relay.ts';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

const waitFor = (c: Client, state: string) =>
  new Promise<void>((resolve) => {
    if (c.state === state) return resolve();
    const off = c.on('state', (s) => {
      if (s === state) {
        off();
        resolve();
      }
    });
  });

const server = await startTestServer();
const relay = await TcpRelay.start(server.server.port);

// 1. Reconnect after an abrupt cut, default backoff (full jitter, base 500 ms).
{
  const c = createClient({ url: relay.url, transports: nodeTransports, rememberRung: false });
  await c.connect();
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    relay.cut();
    await waitFor(c, 'reconnecting');
    await waitFor(c, 'connected');
    times.push(performance.now() - t0);
  }
  console.log(
    `reconnect after RST (default backoff), 20 runs: median ${median(times).toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms`,
  );
  c.dispose();
}

// 2. Publish -> ack round trip, one in flight; and pipelined throughput.
{
  const c = createClient({ url: server.url, transports: nodeTransports, rememberRung: false });
  await c.connect();
  const rtts: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t0 = performance.now();
    await c.publish(undefined, i);
    rtts.push((performance.now() - t0) * 1000);
  }
  console.log(
    `publish -> ack, one in flight: p50 ${pct(rtts, 0.5).toFixed(0)} us, p99 ${pct(rtts, 0.99).toFixed(0)} us`,
  );
  const N = 20_000;
  const t0 = performance.now();
  for (let batch = 0; batch < N / 500; batch++) {
    await Promise.all(Array.from({ length: 500 }, (_, i) => c.publish(undefined, i)));
  }
  const s = (performance.now() - t0) / 1000;
  console.log(
    `publish throughput, 500 in flight (buffer 1000), 64 B-ish: ${(N / s).toFixed(0)} msgs/s acked`,
  );
  c.dispose();
}

// 3. Downstream fan-out: hub.publish -> client message event.
{
  const c = createClient({ url: server.url, transports: nodeTransports, rememberRung: false });
  const sub = c.subscribe('down');
  await c.connect();
  while (sub.lastSeq === undefined) await new Promise((r) => setTimeout(r, 1));
  const N = 50_000;
  let got = 0;
  const done = new Promise<void>((resolve) =>
    c.on('message', () => {
      if (++got === N) resolve();
    }),
  );
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    server.hub.publishSync('down', { i, pad: 'x'.repeat(40) });
    if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
  }
  await done;
  const s = (performance.now() - t0) / 1000;
  console.log(
    `downstream msg delivery (hub -> protocol -> ws -> client, seq-checked): ${(N / s).toFixed(0)} msgs/s`,
  );
  c.dispose();
}

await relay.close();
await server.close();
