/** Medians, percentiles and the spread of rounds: what every table reports. */

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Nearest-rank quantile (q in [0, 1]); NaN for no values. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  if (q === 0.5 && sorted.length % 2 === 0) {
    return (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  }
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** (max - min) / median of the rounds: how much the machine moved under this measurement. */
export function spread(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = median(values);
  return m === 0 ? 0 : (Math.max(...values) - Math.min(...values)) / m;
}

export function fmtRate(n: number): string {
  if (!Number.isFinite(n)) return '–';
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1000) return `${(n / 1000).toFixed(n >= 100_000 ? 0 : 1)}k`;
  return n.toFixed(0);
}

/** Decimal units (1 KB = 1000 B), as bundle sizes and the memory targets are stated. */
export function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return '–';
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (Math.abs(n) >= 1000) return `${(n / 1000).toFixed(1)} KB`;
  return `${n.toFixed(0)} B`;
}

/** P(X >= k) for X ~ Binomial(n, 1/2): how likely k or more of n coin flips come up heads. */
export function signTail(n: number, k: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  let p = 0;
  let choose = 1; // C(n, 0)
  for (let i = 0; i <= n; i++) {
    if (i >= k) p += choose;
    choose = (choose * (n - i)) / (i + 1);
  }
  return p / 2 ** n;
}

/** Rounds whose own ratio reached the target (at it counts). */
export function roundsAtTarget(perRound: readonly number[], target: number): number {
  return perRound.filter((r) => r >= target).length;
}

/** How sure a run is of a target: `met` / `missed` beyond the machine's noise, or `undecided`. */
export type Verdict = 'met' | 'missed' | 'undecided';

/** One-sided level of the sign test below: 8 rounds need 7 on one side of the target to decide. */
export const VERDICT_LEVEL = 0.05;

/**
 * Whether the rounds put a ratio above or below its target beyond the noise of a shared machine: a sign test
 * over the per-round ratios (each round measures both systems of a row seconds apart, so a round's ratio is one
 * paired sample). It assumes nothing about how the noise is distributed, which on these machines is anything but
 * normal (a neighbour's job halves one round); its price is rounds: 4 can never decide at 5 %, 8 need 7 of 8.
 */
export function verdict(perRound: readonly number[], target: number): Verdict {
  const n = perRound.length;
  const above = roundsAtTarget(perRound, target);
  if (signTail(n, above) < VERDICT_LEVEL) return 'met';
  if (signTail(n, n - above) < VERDICT_LEVEL) return 'missed';
  return 'undecided';
}
