/**
 * The Prometheus view of ./counters.ts (prom-client): every metric reads the plain counters in its
 * `collect()`, at scrape time, so the library costs nothing between scrapes. Metric names and labels are
 * listed in docs/server-api.md; labels are bounded (rungs, close codes, error codes, a fixed reason list).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, type MetricType, Registry } from 'prom-client';
import { CloseCode } from '../../src/close-codes.ts';
import { bump, type Counters, type LatencyBuckets } from './counters.ts';
import type { LagSampler } from './lag.ts';

/** What the registry reads besides the counters; each source is optional. */
export interface MetricSources {
  readonly counters: Counters;
  /** Open connections of every app this instance is attached to, by rung. */
  readonly open: () => Map<string, number>;
  /** Protocol counters (unreliable drops), summed over attached protocols. */
  readonly unreliableDropped: () => number;
  readonly redis?: () => { up: boolean; outages: number; reconnects: number; epochChanges: number };
  readonly lag: LagSampler;
}

/** prom-client declares its type names as a TypeScript enum it does not export at run time. */
const HISTOGRAM = 'histogram' as unknown as MetricType;

/** A histogram whose buckets are ./counters.ts' integers, turned into Prometheus' cumulative form on scrape. */
class IntegerHistogram extends Histogram<string> {
  readonly #source: LatencyBuckets;
  readonly #metricName: string;
  readonly #help: string;

  constructor(name: string, help: string, source: LatencyBuckets, registry: Registry) {
    super({ name, help, buckets: [...source.bounds], registers: [registry] });
    this.#source = source;
    this.#metricName = name;
    this.#help = help;
  }

  override async get(): ReturnType<Histogram<string>['get']> {
    const { bounds, counts, sum, count } = this.#source;
    const name = this.#metricName;
    let cumulative = 0;
    const values = counts.map((n, i) => {
      cumulative += n;
      return { value: cumulative, metricName: `${name}_bucket`, labels: { le: bounds[i] ?? '+Inf' } };
    });
    values.push({ value: sum, metricName: `${name}_sum`, labels: {} } as (typeof values)[number]);
    values.push({ value: count, metricName: `${name}_count`, labels: {} } as (typeof values)[number]);
    return { name, help: this.#help, type: HISTOGRAM, values, aggregator: 'sum', collect: () => undefined };
  }

  /** What the registry's text output reads (prom-client prefers it to `get()` for histograms). */
  getForPromString(): ReturnType<Histogram<string>['get']> {
    return this.get();
  }
}

function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => Iterable<[Record<L, string | number>, number]>,
): void {
  new Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.inc(labels, value);
    },
  });
}

function* perRung(
  counters: Counters,
  field: 'opened' | 'messagesIn' | 'messagesOut' | 'bytesIn' | 'bytesOut',
) {
  for (const [rung, c] of counters.rungs) yield [{ rung }, c[field]] as [{ rung: string }, number];
}

/** Close codes that are a rate or count limit refusing a client, and which limit. */
const RATE_CLOSES: ReadonlyMap<number, string> = new Map([
  [CloseCode.RateLimited, 'messages'],
  [CloseCode.TooManyConnections, 'connections'],
]);

export function createRegistry(sources: MetricSources, options: { process?: boolean } = {}): Registry {
  const registry = new Registry();
  const { counters } = sources;
  new Gauge({
    name: 'switchyard_connections_open',
    help: 'Open connections by rung',
    labelNames: ['rung'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [rung, n] of sources.open()) this.set({ rung }, n);
    },
  });
  counter(registry, 'switchyard_connections_opened_total', 'Connections opened by rung', ['rung'], () =>
    perRung(counters, 'opened'),
  );
  counter(
    registry,
    'switchyard_connections_closed_total',
    'Connections closed, by rung and close code',
    ['rung', 'code'],
    function* () {
      for (const [rung, c] of counters.rungs) for (const [code, n] of c.closes) yield [{ rung, code }, n];
    },
  );
  counter(
    registry,
    'switchyard_connection_refusals_total',
    'Connection requests refused before they opened (origin, token, limits, Redis down), by rung and error code',
    ['rung', 'error'],
    function* () {
      for (const [rung, c] of counters.rungs) for (const [error, n] of c.refusals) yield [{ rung, error }, n];
    },
  );
  counter(
    registry,
    'switchyard_connection_attempts_total',
    'Connection attempts by rung: ok (hello received) or the reason a client reported for giving the rung up',
    ['rung', 'result'],
    function* () {
      for (const [rung, c] of counters.rungs) yield [{ rung, result: 'ok' }, c.hellos];
      const failed = new Map<string, number>();
      for (const [key, n] of counters.fallbacks) {
        const [from, , reason] = key.split('\n') as [string, string, string];
        bump(failed, `${from}\n${reason}`, n);
      }
      for (const [key, n] of failed) {
        const [rung, result] = key.split('\n') as [string, string];
        yield [{ rung, result }, n];
      }
    },
  );
  counter(
    registry,
    'switchyard_fallbacks_total',
    'Rungs clients gave up before connecting on another, by rung given up, rung used and reason',
    ['from', 'to', 'reason'],
    function* () {
      for (const [key, n] of counters.fallbacks) {
        const [from, to, reason] = key.split('\n') as [string, string, string];
        yield [{ from, to, reason }, n];
      }
    },
  );
  counter(
    registry,
    'switchyard_messages_received_total',
    'Messages received from clients, by rung',
    ['rung'],
    () => perRung(counters, 'messagesIn'),
  );
  counter(registry, 'switchyard_messages_sent_total', 'Messages sent to clients, by rung', ['rung'], () =>
    perRung(counters, 'messagesOut'),
  );
  counter(registry, 'switchyard_received_bytes_total', 'Payload bytes received, by rung', ['rung'], () =>
    perRung(counters, 'bytesIn'),
  );
  counter(registry, 'switchyard_sent_bytes_total', 'Payload bytes sent, by rung', ['rung'], () =>
    perRung(counters, 'bytesOut'),
  );
  counter(
    registry,
    'switchyard_unreliable_dropped_total',
    'Unreliable messages dropped because the client was backed up',
    [],
    () => [[{}, sources.unreliableDropped()]],
  );
  counter(
    registry,
    'switchyard_slow_consumer_closes_total',
    'Connections closed because their outgoing queue overflowed (close code 4008), by rung',
    ['rung'],
    function* () {
      for (const [rung, c] of counters.rungs) yield [{ rung }, c.closes.get(CloseCode.SlowConsumer) ?? 0];
    },
  );
  counter(
    registry,
    'switchyard_rate_limit_refusals_total',
    'Refusals by a rate or count limit (messages per connection, connections per address), by rung',
    ['rung', 'limit'],
    function* () {
      for (const [rung, c] of counters.rungs) {
        for (const [code, limit] of RATE_CLOSES) yield [{ rung, limit }, c.closes.get(code) ?? 0];
        yield [{ rung, limit: 'connections' }, c.refusals.get('ERR_TOO_MANY_CONNECTIONS') ?? 0];
      }
    },
  );
  counter(registry, 'switchyard_hub_publishes_total', 'Reliable publishes to the hub', [], () => [
    [{}, counters.publishes],
  ]);
  new IntegerHistogram(
    'switchyard_hub_publish_seconds',
    'Hub publish latency (sequence, history, local fan-out; on Redis one round trip), one publish in 16 timed',
    counters.publish,
    registry,
  );
  const redis = sources.redis;
  if (redis) {
    new Gauge({
      name: 'switchyard_redis_up',
      help: '1 while Redis answers, else 0',
      registers: [registry],
      collect() {
        this.set(redis().up ? 1 : 0);
      },
    });
    counter(
      registry,
      'switchyard_redis_errors_total',
      'Redis failures that took it down (outages)',
      [],
      () => [[{}, redis().outages]],
    );
    counter(
      registry,
      'switchyard_redis_reconnects_total',
      'Times Redis came back after an outage',
      [],
      () => [[{}, redis().reconnects]],
    );
    counter(
      registry,
      'switchyard_redis_epoch_changes_total',
      'Times Redis came back without its data (history lost)',
      [],
      () => [[{}, redis().epochChanges]],
    );
  }
  new Gauge({
    name: 'switchyard_event_loop_lag_seconds',
    help: 'How late a 500 ms timer fired, last sample',
    registers: [registry],
    collect() {
      this.set(sources.lag.last);
    },
  });
  new Gauge({
    name: 'switchyard_event_loop_lag_max_seconds',
    help: 'How late a 500 ms timer fired, worst since the previous scrape',
    registers: [registry],
    collect() {
      this.set(sources.lag.takeMax());
    },
  });
  if (options.process !== false) {
    // CPU, memory, GC and handles of the process (prom-client's standard set); a runtime without the Node APIs
    // they read keeps the metrics above.
    try {
      collectDefaultMetrics({ register: registry });
    } catch {
      // Not available on this runtime.
    }
  }
  return registry;
}
