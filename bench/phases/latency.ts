/**
 * Round-trip latency with one message in flight on one connection: p50 and p99 over all rounds' samples,
 * systems rotating round by round like the throughput rows.
 */
import type { LoadJob } from '../clients/messages.ts';
import { SYSTEMS, type SystemId } from '../lib/rows.ts';
import { quantile } from '../lib/stats.ts';
import type { Context } from './throughput.ts';

export interface LatencyResult {
  readonly system: SystemId;
  readonly label: string;
  readonly samples: number;
  readonly p50: number;
  readonly p99: number;
  /** p50 of each round, to show the spread. */
  readonly roundP50: number[];
}

export const LATENCY_SYSTEMS: readonly SystemId[] = [
  'ws',
  'sio-echo',
  'sio-ack',
  'rung',
  'proto',
  'proto-m',
  'sse-raw-echo',
  'sse-echo',
];

export async function runLatency(ctx: Context, samplesPerRound: number): Promise<LatencyResult[]> {
  const all = new Map<SystemId, number[]>();
  const roundP50 = new Map<SystemId, number[]>();
  const worker = ctx.workers[0]!;
  for (let round = 0; round < ctx.rounds; round++) {
    for (let i = 0; i < LATENCY_SYSTEMS.length; i++) {
      const system = LATENCY_SYSTEMS[(i + round) % LATENCY_SYSTEMS.length]!;
      const server = ctx.servers[SYSTEMS[system].server];
      const job: LoadJob = {
        system: SYSTEMS[system].id,
        host: '127.0.0.1',
        port: server.port,
        conns: 1,
        size: 64,
        inFlight: 1,
        tag: `lat${round}`,
      };
      const { micros } = await worker.request({ type: 'latency', job, samples: samplesPerRound }, 'latency');
      all.set(system, [...(all.get(system) ?? []), ...micros]);
      roundP50.set(system, [...(roundP50.get(system) ?? []), quantile(micros, 0.5)]);
      ctx.progress(
        `[latency] round ${round + 1}/${ctx.rounds}  ${SYSTEMS[system].label}: p50 ${quantile(micros, 0.5).toFixed(0)} µs, p99 ${quantile(micros, 0.99).toFixed(0)} µs`,
      );
    }
  }
  return LATENCY_SYSTEMS.map((system) => {
    const micros = all.get(system) ?? [];
    return {
      system,
      label: SYSTEMS[system].label,
      samples: micros.length,
      p50: quantile(micros, 0.5),
      p99: quantile(micros, 0.99),
      roundP50: roundP50.get(system) ?? [],
    };
  });
}
