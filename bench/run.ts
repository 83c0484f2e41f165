/**
 * `npm run bench`: echo throughput and round-trip latency of our WebSocket rung against raw `ws`, in the same
 * run, on the same machine, alternating the two so that drift on a shared machine hits both alike.
 * Reports ratios (ours / raw), which is what the targets are about; absolute numbers vary with the machine.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { WebSocket } from 'ws';
import type { Transport } from '../src/transport.ts';
import { createNodeWebSocketTransport } from '../transports/websocket/node.ts';

interface EchoClient {
  send(data: Uint8Array): void;
  onMessage(listener: () => void): void;
  close(): void;
}

async function rawClient(url: string): Promise<EchoClient> {
  const socket = new WebSocket(url, { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  return {
    send: (data) => socket.send(data),
    onMessage: (listener) => socket.on('message', listener),
    close: () => socket.close(),
  };
}

async function oursClient(url: string): Promise<EchoClient> {
  const transport: Transport = createNodeWebSocketTransport({ url, maxMessageBytes: 2 * 1024 * 1024 });
  await new Promise<void>((resolve, reject) => {
    transport.on('open', () => resolve());
    transport.on('close', (e) => reject(new Error(`closed ${e.code}`)));
  });
  return {
    // Backpressure is measured by the in-flight window here, as with raw ws; the promise is not awaited.
    send: (data) => {
      transport.send(data).catch(() => {});
    },
    onMessage: (listener) => transport.on('message', listener),
    close: () => transport.close(),
  };
}

type Factory = (url: string) => Promise<EchoClient>;

/** Messages echoed per second with `inFlight` outstanding per connection, over `ms`. */
async function throughput(
  factory: Factory,
  url: string,
  conns: number,
  size: number,
  inFlight: number,
  ms: number,
) {
  const clients = await Promise.all(Array.from({ length: conns }, () => factory(url)));
  const payload = new Uint8Array(size).fill(7);
  let received = 0;
  let running = true;
  for (const client of clients) {
    client.onMessage(() => {
      received++;
      if (running) client.send(payload);
    });
  }
  // Warm up, then measure.
  for (const client of clients) for (let i = 0; i < inFlight; i++) client.send(payload);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const start = received;
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const count = received - start;
  const seconds = (performance.now() - t0) / 1000;
  running = false;
  await new Promise((resolve) => setTimeout(resolve, 100));
  for (const client of clients) client.close();
  return count / seconds;
}

async function latency(factory: Factory, url: string, rounds: number) {
  const client = await factory(url);
  const payload = new Uint8Array(64);
  const samples: number[] = [];
  let resolveOne: () => void = () => {};
  client.onMessage(() => resolveOne());
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      resolveOne = resolve;
      client.send(payload);
    });
    samples.push((performance.now() - t0) * 1000);
  }
  client.close();
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  return { p50: at(0.5), p99: at(0.99) };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const fmt = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0));

async function main() {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('./echo-server.ts', import.meta.url).pathname],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const firstLine = await new Promise<string>((resolve) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
  });
  const { rawUrl, oursUrl } = JSON.parse(firstLine) as { rawUrl: string; oursUrl: string };
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const ms = Number(process.env.BENCH_MS ?? 1500);
  const scenarios = [
    { name: 'echo 64 B, 1 conn, 100 in flight', conns: 1, size: 64, inFlight: 100 },
    { name: 'echo 1 KiB, 1 conn, 100 in flight', conns: 1, size: 1024, inFlight: 100 },
    { name: 'echo 64 KiB, 1 conn, 100 in flight', conns: 1, size: 64 * 1024, inFlight: 100 },
    { name: 'echo 64 B, 100 conns, 10 in flight each', conns: 100, size: 64, inFlight: 10 },
  ];
  const rows: string[] = [];
  const ratios: number[] = [];
  for (const s of scenarios) {
    const raw: number[] = [];
    const ours: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternate the order each round so neither side always runs on a warmer (or busier) machine.
      if (r % 2 === 0) {
        raw.push(await throughput(rawClient, rawUrl, s.conns, s.size, s.inFlight, ms));
        ours.push(await throughput(oursClient, oursUrl, s.conns, s.size, s.inFlight, ms));
      } else {
        ours.push(await throughput(oursClient, oursUrl, s.conns, s.size, s.inFlight, ms));
        raw.push(await throughput(rawClient, rawUrl, s.conns, s.size, s.inFlight, ms));
      }
    }
    const ratio = median(ours) / median(raw);
    ratios.push(ratio);
    rows.push(
      `| ${s.name} | ${fmt(median(raw))} msgs/s | ${fmt(median(ours))} msgs/s | ${ratio.toFixed(2)}x |`,
    );
    process.stderr.write(`${rows.at(-1)}\n`);
  }
  const rawLatency = await latency(rawClient, rawUrl, 3000);
  const oursLatency = await latency(oursClient, oursUrl, 3000);
  const latencyRow = `| round trip 64 B, one in flight (p50 / p99) | ${rawLatency.p50.toFixed(0)} / ${rawLatency.p99.toFixed(0)} µs | ${oursLatency.p50.toFixed(0)} / ${oursLatency.p99.toFixed(0)} µs | ${(oursLatency.p50 / rawLatency.p50).toFixed(2)}x (p50, lower is better) |`;
  child.kill('SIGTERM');
  const worst = Math.min(...ratios);
  const table = [
    `Echo benchmark, ${new Date().toISOString()}, node ${process.version}, server in a separate process, median of ${rounds} alternating rounds of ${ms} ms.`,
    '',
    '| measure | raw ws | switchyard WebSocket rung | ours / raw |',
    '|---|---|---|---|',
    ...rows,
    latencyRow,
    '',
    `Target: ours >= 0.9x raw ws msgs/s. Worst ratio this run: ${worst.toFixed(2)}x (${worst >= 0.9 ? 'met' : 'NOT met'}).`,
  ].join('\n');
  process.stdout.write(`${table}\n`);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/latest.md', import.meta.url), `${table}\n`);
}

await main();
