/**
 * A process's CPU time and page faults from Linux's /proc, for the bench's tools in either runtime (Node, and Deno
 * through `node:fs`): procs.ts re-exports it for the Node harness, bench/wt-pub.deno.ts reads its Deno server with it.
 */
import { readFileSync } from 'node:fs';

/** Linux reports CPU time in clock ticks of 1/100 s (CLK_TCK is 100 on every mainstream kernel build). */
const TICK_MICROS = 10_000;

/**
 * A process's CPU time (user + system, microseconds, 10 ms resolution) and minor page faults so far (each costs
 * ~10 µs of CPU on these nested-paging VMs), from one read of `/proc/<pid>/stat`; NaN for a process that is gone.
 */
export function procStat(pid: number): { readonly cpuMicros: number; readonly minorFaults: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      cpuMicros: (Number(fields[11]) + Number(fields[12])) * TICK_MICROS,
      minorFaults: Number(fields[7]),
    };
  } catch {
    return { cpuMicros: Number.NaN, minorFaults: Number.NaN };
  }
}

export function cpuMicros(pid: number): number {
  return procStat(pid).cpuMicros;
}
