/**
 * Which rungs to try, in which order: the server's offer, restricted and ordered by the app, limited to the
 * rungs this client has a factory for, and started at the remembered rung when there is one. Pure, so
 * the decision can be tested without a network.
 */
import type { OfferedTransport } from '../negotiate.ts';
import type { TransportKind } from '../transport.ts';

export const DEFAULT_ORDER: readonly TransportKind[] = ['webtransport', 'websocket', 'sse'];

/**
 * The full ladder (best first: `order` restricted to the rungs offered and `available` here) and the order
 * to try now: the remembered rung first, then the rungs below it, then the ones above it (the network may
 * have changed since).
 */
export function planLadder(
  offers: readonly OfferedTransport[],
  available: readonly string[],
  order: readonly TransportKind[] = DEFAULT_ORDER,
  remembered?: TransportKind,
): { ladder: OfferedTransport[]; attempts: OfferedTransport[] } {
  const ladder: OfferedTransport[] = [];
  for (const kind of order) {
    const offer = offers.find((o) => o.kind === kind);
    if (offer && available.includes(kind) && !ladder.includes(offer)) ladder.push(offer);
  }
  const start = Math.max(
    0,
    ladder.findIndex((o) => o.kind === remembered),
  );
  return { ladder, attempts: [...ladder.slice(start), ...ladder.slice(0, start)] };
}

/** Rungs strictly better than `current`, best first: the candidates for a background climb. */
export function rungsAbove(ladder: readonly OfferedTransport[], current: TransportKind): OfferedTransport[] {
  return ladder.slice(
    0,
    Math.max(
      0,
      ladder.findIndex((o) => o.kind === current),
    ),
  );
}
