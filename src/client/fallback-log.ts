/**
 * The client side of `hello.fallback` (src/fallback-report.ts): listens to the dialer's own attempt reports,
 * keeps the rungs that failed since the last successful connection, and hands them to the next hello.
 * An attempt abandoned because another rung won the race is not a failure of its rung and is not kept.
 */
import type { Emitter } from '../emitter.ts';
import { encodeFallbacks, type Fallback, type FallbackReason, MAX_FALLBACKS } from '../fallback-report.ts';
import type { AttemptEvent } from './types.ts';

function reasonOf(error: string | undefined): FallbackReason | null {
  if (error === undefined || /abandon|before use|won the race|race ended/.test(error)) return null;
  if (/no working connection within|timed? ?out/i.test(error)) return 'timeout';
  if (/\(\d{4}\)$/.test(error)) return 'closed';
  return 'error';
}

export class FallbackLog {
  #failed: Fallback[] = [];

  constructor(reports: Pick<Emitter<{ attempt: AttemptEvent }>, 'on'>) {
    reports.on('attempt', (event) => {
      if (event.purpose !== 'connect' || event.kind === 'negotiate') return;
      if (event.ok) {
        this.#failed = [];
        return;
      }
      const reason = reasonOf(event.error);
      if (reason) this.#failed = [...this.#failed, { kind: event.kind, reason }].slice(-MAX_FALLBACKS);
    });
  }

  /** For the next hello: the rungs given up since the last connection, or undefined. */
  pending(): string | undefined {
    return encodeFallbacks(this.#failed);
  }
}
