/**
 * One throughput measurement: workers open their connections, start the load, and after a warm-up the
 * orchestrator reads every worker's count and the server's CPU time at the start and the end of the window.
 * The server's CPU time per message is the cost that does not depend on how busy the machine is.
 */
import type { LoadJob } from '../clients/messages.ts';
import { cpuMicros, procStat, type ServerProc, sleep, type WorkerProc } from './procs.ts';

export interface Timing {
  readonly warmupMs: number;
  readonly windowMs: number;
  /**
   * Go on warming up (after `warmupMs`) until the workers have counted `replies`, or `maxMs` has passed since the
   * load started: a fresh server process's first few thousand large messages are its start-up (JIT, and
   * mark-compacts while V8 grows the old generation's limit), not the steady state a running server is in. The
   * warm-up is then reported as its own figure (`Sample.startup`).
   */
  readonly warmupUntil?: { readonly replies: number; readonly maxMs: number };
}

/** The warm-up as its own measurement: what a fresh server process does with its first messages. */
export interface StartupSample {
  /** Replies counted from the start of the load to the start of the window. */
  readonly messages: number;
  readonly rate: number;
  readonly serverUsPerMsg: number;
}

export interface Sample {
  /** Counted replies (round trips, deliveries, events) per second, all workers together. */
  readonly rate: number;
  /** Server CPU over the window, in cores (1.0 = one core busy all the time). */
  readonly serverCpu: number;
  /** Server CPU time per counted message, microseconds. */
  readonly serverUsPerMsg: number;
  /** CPU of all load workers together, in cores. */
  readonly clientCpu: number;
  /** The server's minor page faults per counted message (what large messages cost on top of the work). */
  readonly serverFaultsPerMsg?: number;
  /** The warm-up, where the timing asks for one by message count (fresh server processes). */
  readonly startup?: StartupSample;
}

/** CLOCK_MONOTONIC in µs: the clock V8 stamps `.cpuprofile` samples with, the same in every process. */
const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

async function mark(server: ServerProc, workers: readonly WorkerProc[]) {
  const counts = await Promise.all(workers.map((w) => w.request({ type: 'mark' }, 'count')));
  const stat = procStat(server.pid);
  return {
    at: performance.now(),
    monotonic: monotonicMicros(),
    received: counts.reduce((n, c) => n + c.received, 0),
    server: stat.cpuMicros,
    faults: stat.minorFaults,
    clients: workers.reduce((n, w) => n + cpuMicros(w.pid), 0),
  };
}

/** `jobs[i]` runs on `workers[i]`. Throws if any connection saw an error or an unexpected frame. */
export async function measureLoad(
  server: ServerProc,
  workers: readonly WorkerProc[],
  jobs: readonly LoadJob[],
  timing: Timing,
): Promise<Sample> {
  return (await measureWindow(server, workers, jobs, timing)).sample;
}

/** Like measureLoad, and also returns the window in monotonic µs (to cut a `--cpu-prof` profile to it). */
export async function measureWindow(
  server: ServerProc,
  workers: readonly WorkerProc[],
  jobs: readonly LoadJob[],
  timing: Timing,
  around?: { readonly start: () => Promise<void>; readonly end: () => Promise<void> },
): Promise<{ sample: Sample; window: readonly [number, number] }> {
  const used = workers.slice(0, jobs.length);
  if (used.length < jobs.length) throw new Error(`${jobs.length} jobs for ${workers.length} workers`);
  await Promise.all(used.map((w, i) => w.request({ type: 'open', job: jobs[i]! }, 'opened')));
  const go = await mark(server, used);
  for (const w of used) w.post({ type: 'go' });
  await sleep(timing.warmupMs);
  let start = await mark(server, used);
  const until = timing.warmupUntil;
  while (until && start.received - go.received < until.replies && start.at < go.at + until.maxMs) {
    await sleep(50);
    start = await mark(server, used);
  }
  if (around) {
    await around.start();
    start = await mark(server, used);
  }
  await sleep(timing.windowMs);
  const end = await mark(server, used);
  await around?.end();
  const stopped = await Promise.all(used.map((w) => w.request({ type: 'stop' }, 'stopped')));
  const problems = stopped.flatMap((s) => [
    ...(s.unexpected > 0 ? [`${s.unexpected} unexpected replies`] : []),
    ...s.errors,
  ]);
  if (problems.length > 0) throw new Error(`${jobs[0]!.system}: ${[...new Set(problems)].join('; ')}`);
  const seconds = (end.at - start.at) / 1000;
  const messages = end.received - start.received;
  if (messages <= 0) throw new Error(`${jobs[0]!.system}: no replies in the window`);
  const serverMicros = end.server - start.server;
  return {
    sample: {
      rate: messages / seconds,
      serverCpu: serverMicros / 1e6 / seconds,
      serverUsPerMsg: serverMicros / messages,
      clientCpu: (end.clients - start.clients) / 1e6 / seconds,
      serverFaultsPerMsg: (end.faults - start.faults) / messages,
      ...(until && start.received > go.received
        ? {
            startup: {
              messages: start.received - go.received,
              rate: ((start.received - go.received) * 1000) / (start.at - go.at),
              serverUsPerMsg: (start.server - go.server) / (start.received - go.received),
            },
          }
        : {}),
    },
    window: [start.monotonic, end.monotonic],
  };
}
