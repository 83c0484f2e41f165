/**
 * From the lab's raw runs to its tables: each run's metrics (server/demo/hol-metrics.ts, the same code the
 * demo panel uses) plus the loss the nftables counters actually measured, and per scenario and loss rate the
 * median over repeated runs with its spread. Shared by the runner, the chart generator and the CI test.
 */
import { type HolMetrics, holMetrics, median } from '../../server/demo/hol-metrics.ts';
import type { HolRunResult } from '../../server/demo/hol-workload.ts';

export interface PacketCount {
  readonly dropped: number;
  readonly passed: number;
}

export interface LossCounters {
  /** The server's input hook (client -> server) and the client's (server -> client). */
  readonly upstream: PacketCount;
  readonly downstream: PacketCount;
}

export interface LabRun {
  /** Which workload: `bulk` (small channels beside a bulk upload) or `quiet` (small channels alone). */
  readonly variant: string;
  readonly scenario: string;
  readonly lossPercent: number;
  readonly repeat: number;
  readonly result: HolRunResult;
  readonly counters?: LossCounters;
  /** The machine's 1-minute load average when the run ended (2 shared cores: other work runs meanwhile). */
  readonly loadAverage?: number;
}

export interface RunMetrics extends HolMetrics {
  /** Share of packets nftables dropped, per direction. */
  readonly measuredLoss?: { readonly upstream: number; readonly downstream: number };
}

const share = (d: PacketCount) => (d.dropped + d.passed === 0 ? 0 : d.dropped / (d.dropped + d.passed));

export function runMetrics(run: LabRun): RunMetrics {
  const counters = run.counters;
  return {
    ...holMetrics(run.result),
    ...(counters
      ? { measuredLoss: { upstream: share(counters.upstream), downstream: share(counters.downstream) } }
      : {}),
  };
}

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export const METRIC_KEYS = [
  'p50',
  'p90',
  'p99',
  'max',
  'channelP99',
  'stallMax',
  'stallMedian',
  'delivered',
  'bulkMbps',
  'lateShare',
] as const satisfies readonly (keyof HolMetrics)[];

export type Summary = Record<(typeof METRIC_KEYS)[number], Spread> & {
  readonly variant: string;
  readonly scenario: string;
  readonly lossPercent: number;
  readonly runs: number;
  /** Median measured loss per direction over the runs. */
  readonly measuredLoss: { readonly upstream: number; readonly downstream: number } | null;
};

function spread(values: readonly number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** Median with spread over the repeats of each (scenario, loss rate), in the order first seen. */
export function summarize(runs: readonly LabRun[]): Summary[] {
  const groups = new Map<
    string,
    { variant: string; scenario: string; lossPercent: number; metrics: RunMetrics[] }
  >();
  for (const run of runs) {
    const key = `${run.variant}/${run.scenario}@${run.lossPercent}`;
    let group = groups.get(key);
    if (!group) {
      group = { variant: run.variant, scenario: run.scenario, lossPercent: run.lossPercent, metrics: [] };
      groups.set(key, group);
    }
    group.metrics.push(runMetrics(run));
  }
  return [...groups.values()].map((g) => {
    const entries = METRIC_KEYS.map((k) => [k, spread(g.metrics.map((m) => m[k]))] as const);
    const measured = g.metrics.flatMap((m) => (m.measuredLoss ? [m.measuredLoss] : []));
    return {
      variant: g.variant,
      scenario: g.scenario,
      lossPercent: g.lossPercent,
      runs: g.metrics.length,
      measuredLoss:
        measured.length === 0
          ? null
          : {
              upstream: median(measured.map((m) => m.upstream)),
              downstream: median(measured.map((m) => m.downstream)),
            },
      ...(Object.fromEntries(entries) as Record<(typeof METRIC_KEYS)[number], Spread>),
    };
  });
}

export function findSummary(
  summaries: readonly Summary[],
  variant: string,
  scenario: string,
  lossPercent: number,
): Summary | undefined {
  return summaries.find(
    (s) => s.variant === variant && s.scenario === scenario && s.lossPercent === lossPercent,
  );
}
