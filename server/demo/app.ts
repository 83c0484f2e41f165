/**
 * The demo application: the real protocol and in-memory hub behind every rung, a `ticker` topic the server
 * publishes to every second, and echo topics (a client publishes to its own topic and gets it back through
 * the hub) so the page can measure real round trips per rung. Runtime-neutral: Node and Deno serve it alike.
 */
import { type ApiRoutes, mountServerApi } from '../api/index.ts';
import { presenceRoutes } from '../api/presence.ts';
import type { SwitchyardApp } from '../app.ts';
import type { Hub } from '../hub/hub.ts';
import { MemoryHub } from '../hub/memory.ts';
import type { Metrics } from '../metrics/index.ts';
import type { PresenceStore } from '../presence/store.ts';
import { createProtocol, type Protocol, type ProtocolOptions } from '../protocol/index.ts';
import type { SessionStore } from '../protocol/sessions.ts';
import { mountHolRoutes } from './hol-routes.ts';
import { DEMO_PAGE_HTML } from './page-html.ts';

export interface DemoOptions {
  readonly heartbeatMs?: number;
  readonly tickerMs?: number;
  /** The browser bundle of server/demo/page.ts (built by ./bundle.ts). */
  readonly bundle: string;
  /** Token check of the `hello` message (server/security `authenticateHello`). */
  readonly authenticate?: ProtocolOptions['authenticate'];
  /** Shared hub and session store (server/redis, REDIS_URL); default: this process's memory. */
  readonly hub?: Hub;
  readonly sessionStore?: SessionStore;
  readonly presence?: PresenceStore;
  /** Whether this process publishes the ticker (default true; one node of several is enough). */
  readonly ticker?: boolean;
  /** The server API's key(s) (`API_KEY`): with one, /rt/api/* and /rt/metrics exist (docs/server-api.md). */
  readonly apiKey?: string | readonly string[];
  /** More routes behind the API key (presence is always there, from this demo's protocol). */
  readonly apiRoutes?: readonly ApiRoutes[];
  /** Prometheus metrics (server/metrics), served at /rt/metrics behind the API key. */
  readonly metrics?: Metrics;
}

export interface Demo {
  readonly protocol: Protocol;
  readonly hub: Hub;
  /** Adds `/` (the page) and `/demo.js` (its bundle) to the app. */
  configure(app: SwitchyardApp): void;
  stop(): Promise<void>;
}

export const TICKER_TOPIC = 'ticker';

export function createDemo(options: DemoOptions): Demo {
  const hub = options.hub ?? new MemoryHub();
  const metrics = options.metrics;
  metrics?.instrumentHub(hub);
  const protocol = createProtocol({
    ...(metrics ? { onHello: metrics.onHello } : {}),
    hub,
    ...(options.sessionStore ? { sessionStore: options.sessionStore } : {}),
    ...(options.presence ? { presence: options.presence } : {}),
    heartbeatMs: options.heartbeatMs ?? 15_000,
    ...(options.authenticate ? { authenticate: options.authenticate } : {}),
    // Only the echo topics are writable by clients; the ticker is the server's.
    authorize: (operation, topic) =>
      operation === 'pub' && !topic.startsWith('echo.')
        ? { code: 'ERR_FORBIDDEN_TOPIC', message: 'clients may publish to echo.* topics only' }
        : null,
  });
  metrics?.watchProtocol(protocol);
  let tick = 0;
  const ticker = setInterval(() => {
    if (options.ticker === false) return;
    tick++;
    // A hub that is briefly unavailable (Redis down) skips a tick; the ticker is not worth queueing.
    Promise.resolve(hub.publish(TICKER_TOPIC, { tick, at: Date.now() })).catch(() => undefined);
  }, options.tickerMs ?? 1000);
  (ticker as { unref?: () => void }).unref?.();
  return {
    protocol,
    hub,
    configure(app) {
      metrics?.attach(app);
      mountServerApi(app.app, {
        key: options.apiKey,
        hub,
        maxMessageBytes: app.limits.maxMessageBytes,
        routes: [
          presenceRoutes(protocol.presence),
          ...(options.apiRoutes ?? []),
          ...(metrics ? [metrics.routes] : []),
        ],
      });
      app.app.get('/', (c) => c.html(DEMO_PAGE_HTML));
      app.app.get('/favicon.ico', (c) => c.body(null, 204));
      mountHolRoutes(app.app);
      app.app.get('/demo.js', (c) =>
        c.body(options.bundle, 200, {
          'content-type': 'text/javascript; charset=utf-8',
          'cache-control': 'no-store',
        }),
      );
    },
    async stop() {
      clearInterval(ticker);
      metrics?.stop();
      protocol.close();
      await hub.close();
    },
  };
}
