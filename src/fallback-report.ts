/**
 * The rungs a client gave up before the one it connected on, carried in `hello.fallback` so that the server's
 * metrics can count fall-backs by rung and reason (a failed attempt never reaches the server otherwise). The
 * wire form is small and bounded: `kind:reason` pairs joined by commas, e.g. `webtransport:timeout`.
 */
import { KINDS } from './negotiate.ts';

export const FALLBACK_REASONS = ['timeout', 'closed', 'error'] as const;
export type FallbackReason = (typeof FALLBACK_REASONS)[number];

/** Pairs kept per hello: a ladder is three rungs, a few rounds of it are plenty. */
export const MAX_FALLBACKS = 8;

export interface Fallback {
  readonly kind: string;
  readonly reason: FallbackReason;
}

export function encodeFallbacks(list: readonly Fallback[]): string | undefined {
  if (list.length === 0) return undefined;
  return list
    .slice(-MAX_FALLBACKS)
    .map((f) => `${f.kind}:${f.reason}`)
    .join(',');
}

/** What a server accepts: known rungs and reasons only (metric labels stay bounded), at most MAX_FALLBACKS. */
export function parseFallbacks(value: string | undefined): Fallback[] {
  if (!value) return [];
  const out: Fallback[] = [];
  for (const pair of value.split(',', MAX_FALLBACKS)) {
    const [kind, reason] = pair.split(':');
    if (kind && KINDS.includes(kind) && (FALLBACK_REASONS as readonly string[]).includes(reason ?? '')) {
      out.push({ kind, reason: reason as FallbackReason });
    }
  }
  return out;
}
