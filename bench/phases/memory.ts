/**
 * Server memory per idle connection: a fresh server process per system, warmed up (a few connections opened
 * and closed, so lazily loaded code is not billed to the connections), then N connections opened and left
 * idle; RSS and heap after full GC, before and after, divided by N.
 */
import type { LoadJob, LoadSystem } from '../clients/messages.ts';
import { cpuMicros, type ServerName, ServerProc, sleep, type WorkerProc } from '../lib/procs.ts';
import { fmtBytes } from '../lib/stats.ts';
import type { MemoryReading } from '../servers/control.ts';

export interface MemorySystem {
  readonly id: LoadSystem | 'wt-raw-idle' | 'wt-idle' | 'wt-hello-idle';
  readonly label: string;
  readonly server: ServerName | 'deno-wt';
}

export const MEMORY_SYSTEMS: readonly MemorySystem[] = [
  { id: 'ws-idle', label: 'raw ws', server: 'ws' },
  { id: 'sio-idle', label: 'Socket.IO (connected to /)', server: 'sio' },
  { id: 'rung-idle', label: 'our WebSocket rung, bare', server: 'rung' },
  { id: 'proto-idle', label: 'our WebSocket rung + protocol, after hello', server: 'proto' },
  { id: 'sse-raw-idle', label: 'hand-written SSE stream', server: 'sse-raw' },
  { id: 'sse-idle', label: 'our SSE rung, bare', server: 'rung' },
  { id: 'sse-hello-idle', label: 'our SSE rung + protocol, after hello', server: 'proto' },
];

export interface MemoryResult {
  readonly system: MemorySystem['id'];
  readonly label: string;
  readonly conns: number;
  readonly before: MemoryReading;
  readonly after: MemoryReading;
  readonly rssPerConn: number;
  readonly heapPerConn: number;
  /** Memory outside the JS heap that V8 knows of (Buffers, ArrayBuffers), per connection. */
  readonly externalPerConn: number;
  /**
   * Server CPU (all its threads: GC helpers included) per connection while the burst was opened: the upgrade,
   * admission, the hello and its welcome. Microseconds; absent where the server's process is not ours to read.
   */
  readonly cpuPerConnUs?: number;
  /** The same connections read again after they sat idle for `afterMs` (Node servers, full runs). */
  readonly idle?: { readonly afterMs: number; readonly rssPerConn: number; readonly heapPerConn: number };
}

/**
 * How long the connections sit idle before the second reading. The first reading (after `settleMs`) still
 * carries V8's young generation as the burst of handshakes grew it, empty but resident; V8 gives it back on a
 * memory-reducing collection, which it starts by itself after some seconds of little allocation (15 s was not
 * always enough for our servers, whose heartbeat pings every socket every 15 s; 22 s was, in 6 of 6 runs:
 * docs/benchmarks.md, "Idle memory, sixth round"). Under two heartbeat intervals (30 s), after which the
 * servers close the bench's clients, which answer no heartbeat.
 */
export const IDLE_READING_MS = 22_000;

export function perConn(
  system: MemorySystem,
  conns: number,
  before: MemoryReading,
  after: MemoryReading,
): MemoryResult {
  return {
    system: system.id,
    label: system.label,
    conns,
    before,
    after,
    rssPerConn: (after.rss - before.rss) / conns,
    heapPerConn: (after.heapUsed - before.heapUsed) / conns,
    externalPerConn: (after.external - before.external) / conns,
  };
}

export function describeMemory(r: MemoryResult): string {
  const idle = r.idle ? `; after ${r.idle.afterMs / 1000} s idle ${fmtBytes(r.idle.rssPerConn)} RSS` : '';
  const cpu =
    r.cpuPerConnUs === undefined ? '' : `; ${r.cpuPerConnUs.toFixed(0)} µs of server CPU per handshake`;
  return `${r.label}: ${fmtBytes(r.rssPerConn)} RSS, ${fmtBytes(r.heapPerConn)} heap, ${fmtBytes(r.externalPerConn)} external per connection (${r.conns} idle)${idle}${cpu}`;
}

/** Opens `conns` idle connections of `system` spread over the workers; resolves once all are set up. */
export async function openIdle(
  workers: readonly WorkerProc[],
  system: LoadSystem,
  port: number,
  conns: number,
  tag: string,
  progress?: (line: string) => void,
): Promise<void> {
  let total = 0;
  for (const w of workers) {
    w.onProgress = () => {
      total += 500;
      if (progress && total % 1000 === 0) progress(`[memory] ${system}: ${total}/${conns} open`);
    };
  }
  await Promise.all(
    workers.map((w, i) => {
      const job: LoadJob = {
        system,
        host: '127.0.0.1',
        port,
        conns: Math.floor(conns / workers.length) + (i < conns % workers.length ? 1 : 0),
        size: 64,
        inFlight: 0,
        tag: `${tag}-w${i}`,
      };
      return w.request({ type: 'open', job }, 'opened');
    }),
  );
}

export async function closeIdle(workers: readonly WorkerProc[]): Promise<void> {
  const stopped = await Promise.all(workers.map((w) => w.request({ type: 'stop' }, 'stopped')));
  const errors = stopped.flatMap((s) => s.errors);
  if (errors.length > 0) throw new Error(`idle connections saw errors: ${[...new Set(errors)].join('; ')}`);
}

export async function runMemory(
  workers: readonly WorkerProc[],
  conns: number,
  progress: (line: string) => void,
  {
    settleMs = 500,
    systems = MEMORY_SYSTEMS,
    idleMs = 0,
  }: {
    /** Idle time before the first reading. */
    readonly settleMs?: number;
    readonly systems?: readonly MemorySystem[];
    /** Idle time before a second reading (`MemoryResult.idle`), if longer than `settleMs`. */
    readonly idleMs?: number;
  } = {},
): Promise<MemoryResult[]> {
  const results: MemoryResult[] = [];
  for (const system of systems) {
    if (system.server === 'deno-wt') continue;
    // What users get: glibc's own thresholds (bench/lib/procs.ts FIXED_MALLOC_ENV would keep freed memory resident).
    const server = await ServerProc.start(system.server, [], 'default');
    try {
      const id = system.id as LoadSystem;
      await openIdle(workers, id, server.port, 20, 'warm');
      await closeIdle(workers);
      await sleep(settleMs / 2);
      const before = await server.memory();
      const cpuBefore = cpuMicros(server.child.pid as number);
      await openIdle(workers, id, server.port, conns, 'mem', progress);
      const cpuPerConnUs = (cpuMicros(server.child.pid as number) - cpuBefore) / conns;
      await sleep(settleMs);
      const after = await server.memory();
      let idle: MemoryResult['idle'];
      if (idleMs > settleMs) {
        await sleep(idleMs - settleMs);
        const { rssPerConn, heapPerConn } = perConn(system, conns, before, await server.memory());
        idle = { afterMs: idleMs, rssPerConn, heapPerConn };
      }
      await closeIdle(workers);
      const result = { ...perConn(system, conns, before, after), cpuPerConnUs, ...(idle ? { idle } : {}) };
      results.push(result);
      progress(`[memory] ${describeMemory(result)}`);
    } finally {
      await server.stop();
    }
  }
  return results;
}
