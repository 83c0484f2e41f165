/**
 * Round-trip latency with one message in flight on one connection, 64 B: p50, p99 and p99.9, at rest and right
 * after a load on the same server process. Every system gets a fresh server process in every round (a tail
 * measured after a long series of throughput rows says more about that history than about the system), rounds
 * rotate the order of systems, and the tables report the median of the rounds with their range: on shared
 * cores one round's p99 can move 4x either way, for every system.
 */
import type { LoadJob } from '../clients/messages.ts';
import { measureLoad } from '../lib/measure.ts';
import { ServerProc, type WorkerProc } from '../lib/procs.ts';
import { buildRows, jobsFor, SYSTEMS, type SystemId } from '../lib/rows.ts';
import { median, quantile } from '../lib/stats.ts';

export interface LatencyQuantiles {
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
}

export interface LatencyPhase {
  /** Quantiles of each round. */
  readonly rounds: LatencyQuantiles[];
  /** Median over the rounds of each quantile. */
  readonly median: LatencyQuantiles;
}

export interface LatencyResult {
  readonly system: SystemId;
  readonly label: string;
  /** Samples per round and phase. */
  readonly samples: number;
  readonly rest: LatencyPhase;
  /** After `load` on the same server process. */
  readonly loaded: LatencyPhase;
  /** The load run between the two: a row of the throughput table, for this system. */
  readonly load: string;
}

export const LATENCY_SYSTEMS: readonly SystemId[] = [
  'ws',
  'sio-echo',
  'sio-ack',
  'rung',
  'proto',
  'proto-bin',
  'proto-m',
  'sse-raw-echo',
  'sse-echo',
];

export interface LatencyContext {
  readonly workers: readonly WorkerProc[];
  readonly rounds: number;
  readonly samplesPerRound: number;
  /** How long the load between the two measurements runs. */
  readonly loadMs: number;
  readonly quick: boolean;
  readonly progress: (line: string) => void;
}

const quantiles = (micros: readonly number[]): LatencyQuantiles => ({
  p50: quantile(micros, 0.5),
  p99: quantile(micros, 0.99),
  p999: quantile(micros, 0.999),
});

const phaseOf = (rounds: LatencyQuantiles[]): LatencyPhase => ({
  rounds,
  median: {
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    p999: median(rounds.map((r) => r.p999)),
  },
});

export async function runLatency(ctx: LatencyContext): Promise<LatencyResult[]> {
  const rest = new Map<SystemId, LatencyQuantiles[]>();
  const loaded = new Map<SystemId, LatencyQuantiles[]>();
  const rows = buildRows(ctx.quick, ctx.workers.length);
  // The load: 64 KiB round trips on one connection (WebSocket systems), 64 B POST-up/event-down echo on 100
  // connections for SSE (its rows have no large messages); the quick run takes its only row.
  const loadRow = (system: SystemId) =>
    rows.find(
      (r) =>
        r.systems.includes(system) &&
        (ctx.quick || r.id === (system.startsWith('sse') ? 'sseecho-64-100' : 'rt-65536-1')),
    )!;
  const worker = ctx.workers[0]!;
  for (let round = 0; round < ctx.rounds; round++) {
    for (let i = 0; i < LATENCY_SYSTEMS.length; i++) {
      const system = LATENCY_SYSTEMS[(i + round) % LATENCY_SYSTEMS.length]!;
      const server = await ServerProc.start(SYSTEMS[system].server);
      try {
        const job: LoadJob = {
          system: SYSTEMS[system].id,
          host: '127.0.0.1',
          port: server.port,
          conns: 1,
          size: 64,
          inFlight: 1,
          tag: `lat${round}`,
        };
        const measure = async () =>
          quantiles(
            (await worker.request({ type: 'latency', job, samples: ctx.samplesPerRound }, 'latency')).micros,
          );
        // Warm-up, discarded: the first round trips of a fresh process run cold code (the JIT, lazy paths).
        await worker.request({ type: 'latency', job, samples: 500 }, 'latency');
        const atRest = await measure();
        const row = loadRow(system);
        await measureLoad(
          server,
          ctx.workers,
          jobsFor(row, system, ctx.workers.length, server.port, `latload${round}`),
          { warmupMs: 0, windowMs: ctx.loadMs },
        );
        const after = await measure();
        rest.set(system, [...(rest.get(system) ?? []), atRest]);
        loaded.set(system, [...(loaded.get(system) ?? []), after]);
        const fmt = (q: LatencyQuantiles) =>
          `${q.p50.toFixed(0)} / ${q.p99.toFixed(0)} / ${q.p999.toFixed(0)}`;
        ctx.progress(
          `[latency] round ${round + 1}/${ctx.rounds}  ${SYSTEMS[system].label}: p50 / p99 / p99.9 µs at rest ${fmt(atRest)}, after load ${fmt(after)}`,
        );
      } finally {
        await server.stop();
      }
    }
  }
  return LATENCY_SYSTEMS.map((system) => ({
    system,
    label: SYSTEMS[system].label,
    samples: ctx.samplesPerRound,
    rest: phaseOf(rest.get(system) ?? []),
    loaded: phaseOf(loaded.get(system) ?? []),
    load: loadRow(system).label,
  }));
}
