/**
 * Prometheus metrics for one server process: `createMetrics()` once, then plug it in where the pieces are
 * made (the hub's publish timed, the protocol's hellos seen, the app's connections counted) and add its
 * `/rt/metrics` route behind the server API's key. The hot path only increments integers (./counters.ts);
 * prom-client reads them when Prometheus scrapes. Without metrics nothing here runs. See docs/server-api.md.
 */
import type { Registry } from 'prom-client';
import type { HelloEnvelope } from '../../src/envelope.ts';
import { parseFallbacks } from '../../src/fallback-report.ts';
import type { ServerConnection } from '../../src/transport.ts';
import type { ApiRoutes } from '../api/index.ts';
import type { SwitchyardApp } from '../app.ts';
import type { ConnectionRegistry } from '../connections.ts';
import type { Hub } from '../hub/hub.ts';
import type { Protocol } from '../protocol/index.ts';
import type { RedisLink } from '../redis/connection.ts';
import { bump, Counters } from './counters.ts';
import { LagSampler } from './lag.ts';
import { createRegistry } from './registry.ts';
import { tapConnection, timeHubPublish } from './tap.ts';

export const METRICS_PATH = '/rt/metrics';

export interface MetricsOptions {
  /** The node's Redis link (server/redis): up, outages and reconnects. */
  readonly redis?: RedisLink;
  /** prom-client's standard process metrics (CPU, memory, GC, event loop; default true). */
  readonly process?: boolean;
}

export interface Metrics {
  readonly counters: Counters;
  readonly registry: Registry;
  /** Times the hub's publish (in place); call before the hub is used. */
  instrumentHub(hub: Hub): void;
  /** For `createProtocol({ onHello })`: attempts and fall-backs by rung, from each client's hello. */
  readonly onHello: (hello: HelloEnvelope, connection: ServerConnection) => void;
  /** Counts this protocol's unreliable drops. */
  watchProtocol(protocol: Protocol): void;
  /** Counts every connection of this app (messages, bytes, closes) and its admission refusals. */
  attach(app: SwitchyardApp): void;
  /** `GET /rt/metrics` behind the API key: pass in `mountServerApi({ routes })`. */
  readonly routes: ApiRoutes;
  /** The Prometheus text, as the route serves it. */
  text(): Promise<string>;
  stop(): void;
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const counters = new Counters();
  const registries = new Set<ConnectionRegistry>();
  const protocols = new Set<Protocol>();
  const lag = new LagSampler();
  let reconnects = 0;
  const link = options.redis;
  link?.onUp(() => {
    reconnects++;
  });
  const registry = createRegistry(
    {
      counters,
      lag,
      open: () => {
        const open = new Map<string, number>();
        for (const rung of counters.rungs.keys()) open.set(rung, 0);
        for (const connections of registries) for (const c of connections) bump(open, c.kind);
        return open;
      },
      unreliableDropped: () => {
        let dropped = 0;
        for (const protocol of protocols) dropped += protocol.stats.volatileDropped;
        return dropped;
      },
      ...(link
        ? {
            redis: () => {
              const health = link.health();
              return {
                up: health.state === 'up',
                outages: health.outages,
                reconnects,
                epochChanges: health.epochChanges,
              };
            },
          }
        : {}),
    },
    { process: options.process ?? true },
  );
  return {
    counters,
    registry,
    instrumentHub: (hub) => timeHubPublish(hub, counters.publish, counters),
    onHello: (hello, connection) => {
      counters.rung(connection.kind).hellos++;
      for (const { kind, reason } of parseFallbacks(hello.fallback)) {
        bump(counters.fallbacks, `${kind}\n${connection.kind}\n${reason}`);
      }
    },
    watchProtocol: (protocol) => {
      protocols.add(protocol);
    },
    attach(app) {
      registries.add(app.registry);
      app.registry.tap = (connection) => tapConnection(counters, connection);
      app.registry.onRefusal = (kind, code) => bump(counters.rung(kind).refusals, code);
    },
    routes: (app, api) => {
      app.get(
        METRICS_PATH,
        api.requireKeyOrPassword,
        api.handle(async (c) =>
          c.body(await registry.metrics(), 200, {
            'content-type': registry.contentType,
            'cache-control': 'no-store',
          }),
        ),
      );
    },
    text: () => registry.metrics(),
    stop: () => lag.stop(),
  };
}
