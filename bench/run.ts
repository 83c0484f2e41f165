/**
 * `npm run bench`: switchyard against raw `ws` 8.23, Socket.IO 4.8 (WebSocket transport only) and a
 * hand-written SSE server, all in one run, on this machine, as ratios. Servers run each in its own process;
 * load comes from several light client processes (bench/clients/), sized so that the raw `ws` baseline is
 * bound by its server (the run proves it). Progress goes to stderr; results to bench/results/<mode>-<time>.json
 * and, for full runs, the tables in docs/benchmarks.md.
 *
 *   npm run bench                  full run (about 38 minutes on 2 shared cores: 3 rounds, 8 of the large round trips)
 *   npm run bench -- --quick       smoke run: every phase but scale, tiny sizes (20-30 s); writes quick-latest.json
 *   npm run bench -- --profile     CPU profiles and heap snapshots of our servers (bench/profile.ts)
 * Options: --rounds=N --large-rounds=N (round trips from 64 KiB on, default 8) --latency-rounds=N --window=MS --workers=N --malloc=default (glibc's adaptive thresholds)
 *          --only=proof,throughput,latency,memory,webtransport,bundle,scale
 *          --rows=ID,... (rows whose id contains one, e.g. rt-65536,fan-) --out=DIR (results directory) --no-docs
 *          --app-heap=MB (every server under test holds MB of app state, bench/servers/control.ts; no docs tables)
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mallocMode, type ServerName, ServerProc, WorkerProc } from './lib/procs.ts';
import type { BenchResult } from './lib/result.ts';
import { buildRows } from './lib/rows.ts';
import { runBundles } from './phases/bundle.ts';
import { runLatency } from './phases/latency.ts';
import { IDLE_READING_MS, runMemory } from './phases/memory.ts';
import { runScale } from './phases/scale.ts';
import { runServerBoundProof, runThroughput } from './phases/throughput.ts';
import { runWebTransportMemory } from './phases/webtransport.ts';
import { renderDocs } from './report.ts';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];

if (flag('profile')) {
  await import('./profile.ts');
  process.exit(0);
}

if (option('malloc') === 'default') process.env.BENCH_MALLOC = 'default';
// Servers inherit the environment: each holds this many MB of app state (bench/servers/control.ts).
const appHeapMb = Number(option('app-heap') ?? 0);
if (appHeapMb > 0) process.env.BENCH_APP_HEAP_MB = String(appHeapMb);
const quick = flag('quick');
const PHASES = ['bundle', 'proof', 'throughput', 'latency', 'memory', 'webtransport', 'scale'] as const;
const only = option('only')?.split(',');
// The quick smoke run leaves the scale-out phase out unless asked for: it starts its own Redis and nodes
// (about a minute even at tiny sizes), and test/scale/ already proves that path works.
const runs = (phase: (typeof PHASES)[number]) =>
  only ? only.includes(phase) : !(quick && phase === 'scale');
const settings = {
  rounds: Number(option('rounds') ?? (quick ? 1 : 3)),
  // The round-trip rows from 64 KiB on: 8 rounds is the fewest with which a sign test can decide a target.
  largeRounds: Number(option('large-rounds') ?? (quick ? 1 : 8)),
  warmupMs: quick ? 100 : 250,
  windowMs: Number(option('window') ?? (quick ? 200 : 1000)),
  workers: Number(option('workers') ?? 2),
  latencySamplesPerRound: quick ? 100 : 2000,
  // Every latency round starts a fresh server per system; tails need many rounds to show their spread.
  latencyRounds: Number(option('latency-rounds') ?? (quick ? 1 : 6)),
  latencyLoadMs: quick ? 200 : 1000,
  memoryConnections: quick ? 50 : 5000,
  malloc: mallocMode(),
  ...(appHeapMb > 0 ? { appHeapMb } : {}),
};
const outDir = option('out') ?? fileURLToPath(new URL('./results/', import.meta.url));
const started = Date.now();
const progress = (line: string) =>
  process.stderr.write(`${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s ${line}\n`);

const load0 = loadavg()[0]!;
const workers = Array.from({ length: settings.workers * 2 }, () => new WorkerProc());
const servers: Partial<Record<ServerName, ServerProc>> = {};
const skipped: string[] = [];
let result: BenchResult | undefined;
try {
  const bundles = runs('bundle') ? await runBundles(progress) : [];
  const rowFilter = option('rows')?.split(',');
  const rows = buildRows(quick, settings.workers).filter(
    (r) => !rowFilter || rowFilter.some((f) => r.id.includes(f)),
  );
  const needServers = runs('proof') || runs('throughput');
  if (needServers) {
    for (const name of ['ws', 'ws-hono', 'sio', 'rung', 'proto', 'proto-m', 'sse-raw'] as const)
      servers[name] = await ServerProc.start(name);
  }
  const ctx = {
    servers: servers as Record<ServerName, ServerProc>,
    workers: workers.slice(0, settings.workers),
    timing: { warmupMs: settings.warmupMs, windowMs: settings.windowMs },
    rounds: settings.rounds,
    largeRounds: settings.largeRounds,
    progress,
  };
  // The server-bound proof: the 100-connection 64 B echo row with half, the usual and twice the processes.
  const proofRow = rows.find((r) => r.section === 'roundtrip' && r.conns > 1)!;
  const proofCounts = [
    ...new Set([Math.max(1, settings.workers / 2), settings.workers, settings.workers * 2]),
  ];
  const serverBound = runs('proof')
    ? {
        row: proofRow.label,
        results: await runServerBoundProof({ ...ctx, workers }, proofRow, proofCounts),
      }
    : undefined;
  // And on a large row: a window of 256 KiB messages loads the clients differently (every reply is parsed).
  const largeProofRow = rows.find((r) => r.id === 'rt-262144-100');
  const serverBoundLarge =
    runs('proof') && largeProofRow
      ? {
          row: largeProofRow.label,
          results: await runServerBoundProof({ ...ctx, workers }, largeProofRow, proofCounts),
        }
      : undefined;
  const throughput = runs('throughput') ? await runThroughput(ctx, rows) : [];
  for (const s of Object.values(servers)) await s.stop();
  const latency = runs('latency')
    ? await runLatency({
        workers: ctx.workers,
        rounds: settings.latencyRounds,
        samplesPerRound: settings.latencySamplesPerRound,
        loadMs: settings.latencyLoadMs,
        quick,
        progress,
      })
    : [];
  const settleMs = quick ? 50 : 500;
  const memory = runs('memory')
    ? await runMemory(ctx.workers, settings.memoryConnections, progress, {
        settleMs,
        idleMs: quick ? 0 : IDLE_READING_MS,
      })
    : [];
  if (runs('webtransport')) {
    try {
      memory.push(...(await runWebTransportMemory(settings.memoryConnections, progress, settleMs)));
    } catch (error) {
      skipped.push(`webtransport memory: ${(error as Error).message}`);
      progress(`[memory] WebTransport NOT measured: ${(error as Error).message}`);
    }
  }
  let scale: string | undefined;
  if (runs('scale')) {
    try {
      scale = await runScale(quick, progress);
    } catch (error) {
      skipped.push(`scale-out: ${(error as Error).message}`);
      progress(`[scale] NOT measured: ${(error as Error).message}`);
    }
  }
  result = {
    version: 1,
    mode: quick ? 'quick' : 'full',
    startedAt: new Date(started).toISOString(),
    durationSeconds: Math.round((Date.now() - started) / 1000),
    environment: {
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      loadAverage: [load0, loadavg()[0]!],
    },
    settings,
    ...(serverBound ? { serverBound } : {}),
    ...(serverBoundLarge ? { serverBoundLarge } : {}),
    throughput,
    latency,
    memory,
    bundles,
    ...(scale ? { scale } : {}),
    skipped,
  };
} finally {
  for (const s of Object.values(servers)) await s.stop();
  for (const w of workers) w.stop();
}

mkdirSync(outDir, { recursive: true });
const name = quick ? 'quick-latest.json' : `full-${result.startedAt.replace(/[:.]/g, '-')}.json`;
const file = join(outDir, name);
writeFileSync(file, `${JSON.stringify(result, null, 1)}\n`);
progress(`results: ${file} (${result.durationSeconds} s)`);
// The generated tables are the servers as they are; a run with an app's heap is its own comparison.
if (!quick && !flag('no-docs') && !only && appHeapMb === 0) {
  const docs = renderDocs(outDir);
  progress(`tables: ${docs}`);
}
