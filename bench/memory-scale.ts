/**
 * Server memory per idle connection at more than one connection count, and what one more connection costs
 * between them: the memory phase's own measurement (bench/phases/memory.ts: a fresh server per system, warmed
 * up, N idle connections, RSS and heap after full GC), run at each count, with the young generation's resident
 * size beside it. At 5,000 connections V8's young generation, grown during the burst of handshakes and empty
 * after the full GC, is a large share of "RSS per connection" and moves with what each handshake allocates; at
 * 15,000 it has reached the same size in every system, and RSS beyond it is what the connections hold
 * (docs/benchmarks.md, "Idle memory, sixth round").
 *
 *   node --import tsx bench/memory-scale.ts [--systems=ws-idle,rung-idle,proto-idle] [--counts=5000,15000]
 *        [--rounds=1] [--settle=500]
 *
 * Each count needs that many sockets in the server (and half as many in each of the two load workers): check
 * `ulimit -n`. Prints one line per system, count and round, then medians per system and count.
 */
import { loadavg } from 'node:os';
import { WorkerProc } from './lib/procs.ts';
import { MEMORY_SYSTEMS, type MemoryResult, runMemory } from './phases/memory.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) =>
  args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const ids = option('systems', 'ws-idle,rung-idle,proto-idle').split(',');
const counts = option('counts', '5000,15000').split(',').map(Number);
const rounds = Number(option('rounds', '1'));
/** Milliseconds the connections sit idle before the reading (the memory phase's own: 500). */
const settleMs = Number(option('settle', '500'));
const systems = MEMORY_SYSTEMS.filter((s) => ids.includes(s.id) && s.server !== 'deno-wt');

/** The memory phase's unit (bench/lib/stats.ts `fmtBytes`): KB of 1,000 bytes. */
const kb = (bytes: number) => (bytes / 1000).toFixed(2);
/** Growth of the young generation's resident size, per connection. */
const young = (r: MemoryResult) => ((r.after.youngPhysical ?? 0) - (r.before.youngPhysical ?? 0)) / r.conns;
const workers = Array.from({ length: 2 }, () => new WorkerProc());
const results = new Map<string, MemoryResult[]>();
try {
  for (let round = 1; round <= rounds; round++) {
    for (const conns of counts) {
      const at = new Date().toISOString().slice(11, 19);
      const load = loadavg()[0]!.toFixed(1);
      for (const r of await runMemory(workers, conns, () => {}, { settleMs, systems })) {
        const key = `${r.system} ${conns}`;
        results.set(key, [...(results.get(key) ?? []), r]);
        console.log(
          `${at}Z load ${load} round ${round} ${r.label}, ${conns} conns: ${kb(r.rssPerConn)} KB RSS ` +
            `(young generation ${kb(young(r))}), ${kb(r.heapPerConn)} KB heap per connection, ` +
            `${(r.cpuPerConnUs ?? Number.NaN).toFixed(0)} µs server CPU per handshake`,
        );
      }
    }
  }
  // Medians per system and count. "Beyond the young generation": RSS growth less the young generation's growth,
  // what the connections themselves hold (their heap, native memory, allocator overhead).
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const system of systems) {
    for (const conns of counts) {
      const runs = results.get(`${system.id} ${conns}`) ?? [];
      const of = (read: (r: MemoryResult) => number) => kb(median(runs.map(read)));
      console.log(
        `median of ${runs.length}, ${system.label}, ${conns} conns: ${of((r) => r.rssPerConn)} KB RSS, ` +
          `young generation ${of(young)}, beyond it ${of((r) => r.rssPerConn - young(r))}, ` +
          `heap ${of((r) => r.heapPerConn)} KB per connection, ` +
          `${median(runs.map((r) => r.cpuPerConnUs ?? Number.NaN)).toFixed(0)} µs server CPU per handshake`,
      );
    }
  }
} finally {
  for (const w of workers) w.stop();
}
