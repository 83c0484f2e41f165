/**
 * The client side of `hello.fallback` (src/fallback-report.ts): listens to the dialer's own attempt reports,
 * keeps the rungs that failed since the last successful connection, and hands them to the next hello.
 * An attempt abandoned because another rung won the race is not a failure of its rung and is not kept.
 */
import type { Emitter } from '../emitter.ts';
import { encodeFallbacks, type Fallback, MAX_FALLBACKS } from '../fallback-report.ts';
import type { AttemptEvent } from './types.ts';

export class FallbackLog {
  #failed: Fallback[] = [];

  constructor(reports: Pick<Emitter<{ attempt: AttemptEvent }>, 'on'>) {
    reports.on('attempt', (event) => {
      if (event.purpose !== 'connect' || event.kind === 'negotiate') return;
      if (event.ok) {
        this.#failed = [];
        return;
      }
      const reason = event.failure ?? 'error';
      if (reason !== 'abandoned')
        this.#failed = [...this.#failed, { kind: event.kind, reason }].slice(-MAX_FALLBACKS);
    });
  }

  /** For the next hello: the rungs given up since the last connection, or undefined. */
  pending(): string | undefined {
    return encodeFallbacks(this.#failed);
  }
}
