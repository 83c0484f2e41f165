/**
 * What the hot path counts, in plain integer fields: a message costs an increment, never a call into the
 * metrics library. The Prometheus registry (./registry.ts) reads these at scrape time. Rungs are keys made
 * from each connection's `kind` as it comes, so nothing here names a rung.
 */

/** One rung's counts; a connection holds its rung's object, so a message is a field increment. */
export class RungCounters {
  opened = 0;
  messagesIn = 0;
  bytesIn = 0;
  messagesOut = 0;
  bytesOut = 0;
  /** Connections that completed hello on this rung (a connection attempt that worked). */
  hellos = 0;
  /** Close codes seen on this rung, code -> count. */
  readonly closes = new Map<number, number>();
  /** Connection requests refused before they existed (HTTP 4xx/5xx at admission), error code -> count. */
  readonly refusals = new Map<string, number>();
}

export function bump<K>(map: Map<K, number>, key: K, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

/** Upper bounds in seconds (Prometheus `le`); a publish on the embedded hub is microseconds, on Redis a round trip. */
export const PUBLISH_BUCKETS = [
  0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
  0.25, 0.5, 1, 2.5,
] as const;

/** A histogram as integer counts per bucket: one comparison loop per observation, no allocation. */
export class LatencyBuckets {
  readonly bounds: readonly number[];
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last one is above every bound. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[] = PUBLISH_BUCKETS) {
    this.bounds = bounds;
    this.counts = new Array(bounds.length + 1).fill(0);
  }

  observe(seconds: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += seconds;
    this.count++;
  }
}

export class Counters {
  readonly #rungs = new Map<string, RungCounters>();
  /** Rungs a client tried and gave up before the one it connected on, `rung\nreason` -> count (from hello). */
  readonly fallbacks = new Map<string, number>();
  /** Reliable hub publishes (exact); `publish` holds the timed sample of them. */
  publishes = 0;
  readonly publish = new LatencyBuckets();

  rung(kind: string): RungCounters {
    let counters = this.#rungs.get(kind);
    if (!counters) {
      counters = new RungCounters();
      this.#rungs.set(kind, counters);
    }
    return counters;
  }

  get rungs(): ReadonlyMap<string, RungCounters> {
    return this.#rungs;
  }
}
