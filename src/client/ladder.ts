/**
 * Which rungs to try, in which order: the server's offer, restricted and ordered by the app, limited to the
 * rungs this client has a factory for, and started at the remembered rung when there is one. Pure, so
 * the decision can be tested without a network.
 */
import type { OfferedTransport } from '../negotiate.ts';
import type { TransportKind } from '../transport.ts';

export const DEFAULT_ORDER: readonly TransportKind[] = ['webtransport', 'websocket', 'sse'];

export interface LadderInput {
  readonly offers: readonly OfferedTransport[];
  /** The app's order (a subset, reordered); default DEFAULT_ORDER. */
  readonly order?: readonly TransportKind[];
  /** Rungs this client can open. */
  readonly available: readonly TransportKind[];
  /** The rung that last worked for this origin. */
  readonly remembered?: TransportKind;
}

/**
 * The full ladder (best first) and the order to try now: the remembered rung first, then the rungs below
 * it, then the ones above it (the network may have changed since).
 */
export function planLadder(input: LadderInput): { ladder: OfferedTransport[]; attempts: OfferedTransport[] } {
  const order = input.order ?? DEFAULT_ORDER;
  const ladder: OfferedTransport[] = [];
  for (const kind of order) {
    if (!input.available.includes(kind)) continue;
    const offer = input.offers.find((o) => o.kind === kind);
    if (offer && !ladder.includes(offer)) ladder.push(offer);
  }
  const start = input.remembered ? ladder.findIndex((o) => o.kind === input.remembered) : -1;
  if (start <= 0) return { ladder, attempts: ladder };
  return { ladder, attempts: [...ladder.slice(start), ...ladder.slice(0, start)] };
}

/** Rungs strictly better than `current`, best first: the candidates for a background climb. */
export function rungsAbove(ladder: readonly OfferedTransport[], current: TransportKind): OfferedTransport[] {
  const index = ladder.findIndex((o) => o.kind === current);
  return index <= 0 ? [] : ladder.slice(0, index);
}
