/**
 * The head-of-line numbers of one workload run: latency percentiles of the small channels (pooled and per
 * channel), the stall (longest time a channel went without a fresh update), the delivered fraction and the
 * bulk channel's goodput. Pure functions shared by the demo's panel and the lab (bench/hol/), so the page and
 * the published tables compute the same numbers the same way.
 */
import type { HolRunResult, HolSample } from './hol-workload.ts';

export interface HolMetrics {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  /** Median over channels of each channel's own p99. */
  readonly channelP99: number;
  /** Longest gap between fresh arrivals: the worst channel, and the median channel. */
  readonly stallMax: number;
  readonly stallMedian: number;
  /** Fresh arrivals / messages sent (below 1 only where messages are unreliable). */
  readonly delivered: number;
  readonly bulkMbps: number;
  /** Share of small messages held up: latency above 1.5x the run's median (a loss or a queue in the way). */
  readonly lateShare: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

export const latencyOf = (s: HolSample): number => s[3] - s[2];

/**
 * Longest gap per channel between fresh arrivals, from the moment sending started; a channel that went quiet
 * before the end (lost datagrams) counts as stalled until sending ended.
 */
export function longestGaps(result: HolRunResult): number[] {
  const { channels, warmupMs, durationMs } = result.workload;
  const last = new Array<number>(channels).fill(Number.NaN);
  const gaps = new Array<number>(channels).fill(0);
  for (const [c, , , arrivedAt] of [...result.samples].sort((a, b) => a[3] - b[3])) {
    const previous = Number.isNaN(last[c] as number) ? warmupMs : (last[c] as number);
    gaps[c] = Math.max(gaps[c] as number, arrivedAt - previous);
    last[c] = arrivedAt;
  }
  const end = warmupMs + durationMs;
  for (let c = 0; c < channels; c++) {
    const at = last[c] as number;
    gaps[c] = Math.max(gaps[c] as number, Number.isNaN(at) ? durationMs : end - at);
  }
  return gaps;
}

export function holMetrics(result: HolRunResult): HolMetrics {
  const latencies = result.samples.map(latencyOf).sort((a, b) => a - b);
  const perChannel: number[][] = Array.from({ length: result.workload.channels }, () => []);
  for (const s of result.samples) perChannel[s[0]]?.push(latencyOf(s));
  const channelP99s = perChannel
    .filter((l) => l.length > 0)
    .map((l) =>
      percentile(
        l.sort((a, b) => a - b),
        99,
      ),
    );
  const gaps = longestGaps(result);
  const sent = result.sent.reduce((a, b) => a + b, 0);
  return {
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? Number.NaN,
    channelP99: median(channelP99s),
    stallMax: Math.max(...gaps),
    stallMedian: median(gaps),
    delivered: sent === 0 ? 0 : result.samples.length / sent,
    bulkMbps: result.bulk.ms > 0 ? (result.bulk.bytes * 8) / (result.bulk.ms * 1000) : 0,
    lateShare:
      latencies.length === 0
        ? 0
        : latencies.filter((l) => l > 1.5 * percentile(latencies, 50)).length / latencies.length,
  };
}
