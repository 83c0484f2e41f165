/**
 * `npm run bench -- --quick` completes and writes well-formed results: every row has every system with a
 * measured rate, latency and memory rows are numbers, bundles are sized. Nothing about speed is asserted
 * (2 shared cores); the numbers themselves are the bench's business, not the test's.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import type { BenchResult } from '../bench/lib/result.ts';
import { SYSTEMS } from '../bench/lib/rows.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const positive = (n: number) => Number.isFinite(n) && n > 0;

it('npm run bench -- --quick runs every phase and writes well-formed JSON', async () => {
  const out = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
  try {
    await run(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', `--out=${out}`], {
      cwd: ROOT,
      timeout: 150_000,
    });
    const result = JSON.parse(readFileSync(join(out, 'quick-latest.json'), 'utf8')) as BenchResult;
    expect(result.mode).toBe('quick');
    expect(result.serverBound?.results.length).toBeGreaterThanOrEqual(2);
    expect(result.throughput.map((r) => r.row.section)).toEqual(
      expect.arrayContaining(['roundtrip', 'fanout', 'sse-push', 'sse-echo']),
    );
    for (const row of result.throughput) {
      for (const system of row.row.systems) {
        const r = row.results[system];
        expect(r?.samples.length, `${row.row.id} ${system}`).toBe(result.settings.rounds);
        expect(positive(r!.median.rate), `${row.row.id} ${system}`).toBe(true);
        expect(Number.isFinite(r!.median.serverUsPerMsg)).toBe(true);
      }
      for (const ratio of row.ratios) {
        expect(positive(ratio.value), `${row.row.id} ${ratio.label}`).toBe(true);
        // One paired ratio per round, each the two systems' own rates of that round.
        const of = row.results[ratio.of]!.samples;
        const to = row.results[ratio.to]!.samples;
        expect(ratio.perRound).toEqual(of.map((s, i) => s.rate / to[i]!.rate));
        if (ratio.target !== undefined) expect(ratio.verdict, ratio.label).toBeDefined();
      }
    }
    expect(result.latency.map((l) => l.system).sort()).toEqual(
      [
        'proto',
        'proto-bin',
        'proto-m',
        'rung',
        'sio-ack',
        'sio-echo',
        'sse-echo',
        'sse-raw-echo',
        'ws',
      ].sort(),
    );
    for (const l of result.latency) {
      for (const phase of [l.rest, l.loaded]) {
        const q = phase.median;
        expect(positive(q.p50) && q.p99 >= q.p50 && q.p999 >= q.p99, l.system).toBe(true);
      }
      expect(SYSTEMS[l.system]).toBeDefined();
    }
    // Seven Node rows and three WebTransport (Deno, HTTP/3) rows: a phase that could not run fails here.
    expect(result.skipped).toEqual([]);
    expect(result.memory.map((m) => m.system)).toContain('wt-hello-idle');
    expect(result.memory.length).toBe(10);
    for (const m of result.memory) {
      expect(m.conns).toBe(result.settings.memoryConnections);
      expect(Number.isFinite(m.rssPerConn) && Number.isFinite(m.heapPerConn), m.system).toBe(true);
    }
    expect(result.bundles.map((b) => b.id)).toEqual([
      'ours-ws-sse',
      'ours-all',
      'socket.io-client',
      'partysocket',
    ]);
    for (const b of result.bundles) expect(b.initialGzip > 0 && b.initialGzip < b.initialMin).toBe(true);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 180_000);
