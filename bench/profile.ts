/**
 * `npm run bench -- --profile`: where our servers spend their time and memory, for the optimisation work.
 *  - CPU: each scenario runs against a fresh server process, profiled (inspector) over the load window; it is
 *    summarised into the top self-time functions and the share per area (ours, each dependency, GC).
 *  - Memory: heap snapshots of a fresh server before and after N idle connections, diffed by constructor.
 * Raw .cpuprofile / .heapsnapshot files stay in bench/results/profiles/ (not committed: tens of MB); the
 * summary goes to bench/results/profile-latest.json and the profile tables of docs/benchmarks.md.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ProfileSummary, summarizeProfile } from './lib/cpuprofile.ts';
import { diffPerConnection, type HeapGroup } from './lib/heapsnapshot.ts';
import { measureWindow, type Sample } from './lib/measure.ts';
import { type ServerName, ServerProc, sleep, WorkerProc } from './lib/procs.ts';
import { buildRows, jobsFor, type SystemId } from './lib/rows.ts';
import { locator } from './lib/sourcemaps.ts';
import { closeIdle, MEMORY_SYSTEMS, openIdle } from './phases/memory.ts';
import { FRESH_WARMUP } from './phases/throughput.ts';
import { renderProfileDocs } from './profile-report.ts';

// Profiles name functions through tsx's inline source maps, so the profiled servers run from source (the
// measured runs use built JavaScript, bench/lib/procs.ts): their GC share includes the loader's resident heap.
process.env.BENCH_SERVERS ??= 'source';

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const DIR = join(RESULTS, 'profiles');

interface Scenario {
  readonly id: string;
  readonly label: string;
  readonly server: ServerName;
  readonly row: string;
  readonly system: SystemId;
}

const SCENARIOS: readonly Scenario[] = [
  {
    id: 'proto-puback',
    label: 'protocol pub -> ack, 64 B, 100 conns',
    server: 'proto',
    row: 'rt-64-100',
    system: 'proto',
  },
  {
    id: 'proto-fanout',
    label: 'hub -> 100 subscribers, 64 B',
    server: 'proto',
    row: 'fan-64-100',
    system: 'proto-fan',
  },
  {
    id: 'proto-fanout-64k',
    label: 'hub -> 1 subscriber, 64 KiB JSON',
    server: 'proto',
    row: 'fan-65536-1',
    system: 'proto-fan',
  },
  {
    id: 'rung-echo',
    label: 'WebSocket rung echo, 64 B, 100 conns',
    server: 'rung',
    row: 'rt-64-100',
    system: 'rung',
  },
  // Large messages (issue 20): raw `ws` alongside, for what a thin layer over `ws` should cost.
  { id: 'ws-echo-64k', label: 'raw ws echo, 64 KiB, 1 conn', server: 'ws', row: 'rt-65536-1', system: 'ws' },
  {
    id: 'rung-echo-64k',
    label: 'WebSocket rung echo, 64 KiB, 1 conn',
    server: 'rung',
    row: 'rt-65536-1',
    system: 'rung',
  },
  {
    id: 'proto-puback-64k',
    label: 'protocol pub -> ack, 64 KiB JSON text, 1 conn',
    server: 'proto',
    row: 'rt-65536-1',
    system: 'proto',
  },
  {
    id: 'proto-m-puback-64k',
    label: 'protocol pub -> ack, 64 KiB JSON text, metrics on, 1 conn',
    server: 'proto-m',
    row: 'rt-65536-1',
    system: 'proto-m',
  },
  {
    id: 'proto-bin-puback-64k',
    label: 'protocol pub -> ack, 64 KiB MessagePack binary, 1 conn',
    server: 'proto',
    row: 'rt-65536-1',
    system: 'proto-bin',
  },
  {
    id: 'ws-echo-64k-100',
    label: 'raw ws echo, 64 KiB, 100 conns',
    server: 'ws',
    row: 'rt-65536-100',
    system: 'ws',
  },
  {
    id: 'rung-echo-64k-100',
    label: 'WebSocket rung echo, 64 KiB, 100 conns',
    server: 'rung',
    row: 'rt-65536-100',
    system: 'rung',
  },
  {
    id: 'proto-puback-64k-100',
    label: 'protocol pub -> ack, 64 KiB JSON, 100 conns',
    server: 'proto',
    row: 'rt-65536-100',
    system: 'proto',
  },
  {
    id: 'proto-bin-puback-64k-100',
    label: 'protocol pub -> ack, 64 KiB MessagePack binary, 100 conns',
    server: 'proto',
    row: 'rt-65536-100',
    system: 'proto-bin',
  },
  {
    id: 'ws-echo-256k',
    label: 'raw ws echo, 256 KiB, 1 conn',
    server: 'ws',
    row: 'rt-262144-1',
    system: 'ws',
  },
  {
    id: 'rung-echo-256k',
    label: 'WebSocket rung echo, 256 KiB, 1 conn',
    server: 'rung',
    row: 'rt-262144-1',
    system: 'rung',
  },
  {
    id: 'proto-bin-puback-256k',
    label: 'protocol pub -> ack, 256 KiB MessagePack binary, 1 conn',
    server: 'proto',
    row: 'rt-262144-1',
    system: 'proto-bin',
  },
  { id: 'ws-echo-1m', label: 'raw ws echo, 1 MiB, 1 conn', server: 'ws', row: 'rt-1048576-1', system: 'ws' },
  {
    id: 'rung-echo-1m',
    label: 'WebSocket rung echo, 1 MiB, 1 conn',
    server: 'rung',
    row: 'rt-1048576-1',
    system: 'rung',
  },
  {
    id: 'proto-puback-1m',
    label: 'protocol pub -> ack, 1 MiB JSON text, 1 conn',
    server: 'proto',
    row: 'rt-1048576-1',
    system: 'proto',
  },
  {
    id: 'sse-echo',
    label: 'SSE rung echo (POST up, event down), 100 conns',
    server: 'rung',
    row: 'sseecho-64-100',
    system: 'sse-echo',
  },
];

export interface ProfileResult {
  readonly startedAt: string;
  readonly cpu: {
    readonly id: string;
    readonly label: string;
    readonly sample: Sample;
    readonly profile: ProfileSummary;
  }[];
  readonly heap: {
    readonly system: string;
    readonly label: string;
    readonly conns: number;
    readonly total: number;
    readonly groups: HeapGroup[];
    readonly closures: HeapGroup[];
  }[];
}

const args = process.argv.slice(2);
const heapConns = Number(args.find((a) => a.startsWith('--conns='))?.split('=')[1] ?? 1000);
/** `--cpu=id,id` profiles only those scenarios; `--no-heap` skips the heap snapshots. */
const only = args
  .find((a) => a.startsWith('--cpu='))
  ?.slice(6)
  .split(',');
const scenarios = SCENARIOS.filter((s) => !only || only.includes(s.id));
const started = Date.now();
const progress = (line: string) =>
  process.stderr.write(`${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s ${line}\n`);

rmSync(DIR, { recursive: true, force: true });
mkdirSync(DIR, { recursive: true });
const workers = [new WorkerProc(), new WorkerProc()];
const rows = buildRows(false, workers.length);
const result: ProfileResult = { startedAt: new Date(started).toISOString(), cpu: [], heap: [] };
try {
  for (const s of scenarios) {
    const file = `${s.id}.cpuprofile`;
    const server = await ServerProc.start(s.server);
    const row = rows.find((r) => r.id === s.row)!;
    const { sample, window } = await measureWindow(
      server,
      workers,
      jobsFor(row, s.system, workers.length, server.port, s.id),
      { warmupMs: 1000, windowMs: 5000, warmupUntil: FRESH_WARMUP },
      { start: () => server.startProfile(), end: () => server.stopProfile(join(DIR, file)) },
    );
    await server.stop();
    const path = join(DIR, file);
    const profile = summarizeProfile(JSON.parse(readFileSync(path, 'utf8')), window, locator(path));
    result.cpu.push({ id: s.id, label: s.label, sample, profile });
    progress(
      `[cpu] ${s.label}: ${Math.round(sample.rate)} msgs/s while profiled; top: ${profile.top
        .slice(0, 3)
        .map((t) => `${t.name} ${(t.share * 100).toFixed(1)}%`)
        .join(', ')}`,
    );
  }
  for (const system of args.includes('--no-heap') ? [] : MEMORY_SYSTEMS) {
    if (system.server === 'deno-wt') continue;
    const server = await ServerProc.start(system.server);
    try {
      const id = system.id as Parameters<typeof openIdle>[1];
      await openIdle(workers, id, server.port, 20, 'warm');
      await closeIdle(workers);
      await sleep(200);
      const before = join(DIR, `${system.id}-before.heapsnapshot`);
      const after = join(DIR, `${system.id}-after.heapsnapshot`);
      await server.snapshot(before);
      await openIdle(workers, id, server.port, heapConns, 'heap');
      await sleep(500);
      await server.snapshot(after);
      await closeIdle(workers);
      const diff = diffPerConnection(before, after, heapConns);
      result.heap.push({ system: system.id, label: system.label, conns: heapConns, ...diff });
      progress(
        `[heap] ${system.label}: ${Math.round(diff.total)} B of heap per connection; largest: ${diff.groups
          .slice(0, 4)
          .map((g) => `${g.key} ${Math.round(g.bytes)} B`)
          .join(', ')}`,
      );
    } finally {
      await server.stop();
    }
  }
} finally {
  for (const w of workers) w.stop();
}
writeFileSync(join(RESULTS, 'profile-latest.json'), `${JSON.stringify(result, null, 1)}\n`);
progress(`profile summary: ${join(RESULTS, 'profile-latest.json')}; raw profiles and snapshots: ${DIR}`);
if (!args.includes('--no-docs')) progress(`tables: ${renderProfileDocs(result)}`);
