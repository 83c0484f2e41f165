/**
 * The scale-out engine on Redis, in one call: the node's two Redis connections and their health, the hub
 * (topics, sequences, history), the session store (dedup, resume across nodes) and the SSE forwarder (POSTs on
 * any node). Plug the pieces into `createProtocol({ hub, sessionStore })` and `startNodeServer({ admission,
 * sseForwarder, configure: engine.install })`; without REDIS_URL the embedded in-memory pieces stay the default.
 * See docs/scale-out.md.
 */
import type { Admission } from '../../src/admission.ts';
import { CloseCode } from '../../src/close-codes.ts';
import type { SessionStoreOptions } from '../protocol/sessions.ts';
import { type RedisHealth, RedisLink, type RedisLinkOptions } from './connection.ts';
import { RedisForwarder, type RedisForwarderOptions } from './forward.ts';
import { RedisHub, type RedisHubOptions } from './hub.ts';
import { RedisPresence, type RedisPresenceOptions } from './presence.ts';
import { RedisReplayStore } from './replay.ts';
import { RedisSessionStore } from './sessions.ts';

export { type RedisHealth, RedisLink, type RedisLinkOptions } from './connection.ts';
export { RedisForwarder } from './forward.ts';
export { RedisHub, type RedisHubOptions } from './hub.ts';
export { RedisPresence, type RedisPresenceOptions } from './presence.ts';
export { RedisReplayStore } from './replay.ts';
export { RedisSessionStore } from './sessions.ts';

export const HEALTH_PATH = '/rt/health';

export interface RedisEngineOptions extends RedisLinkOptions {
  readonly hub?: RedisHubOptions;
  readonly sessions?: SessionStoreOptions;
  readonly forwarder?: RedisForwarderOptions;
  readonly presence?: RedisPresenceOptions;
}

export interface HealthReport {
  readonly ok: boolean;
  readonly redis: RedisHealth;
  readonly topics: number;
  readonly sessions: number;
  readonly hub: RedisHub['stats'];
  readonly forwarding: RedisForwarder['stats'];
}

export interface RedisEngine {
  readonly link: RedisLink;
  readonly hub: RedisHub;
  readonly sessions: RedisSessionStore;
  readonly forwarder: RedisForwarder;
  /** Spent tokens, shared by every node: pass it as `createSecurity({ tokens: { secret, replay } })`. */
  readonly replay: RedisReplayStore;
  /** Presence across nodes: pass it as `createProtocol({ presence })`. */
  readonly presence: RedisPresence;
  /** Refuses new connections (503, close code TryAgainLater 1013) while Redis is down. */
  readonly admission: Admission;
  health(): HealthReport;
  /** Adds `GET /rt/health` (200 while Redis is up, 503 otherwise) to a Hono app. */
  install(target: { readonly app: { get: (path: string, handler: HealthHandler) => unknown } }): void;
  close(): Promise<void>;
}

type HealthHandler = (c: {
  json: (body: HealthReport, status: 200 | 503) => Response;
  header: (name: string, value: string) => void;
}) => Response;

/** Connects to Redis (rejects, with ERR_UNAVAILABLE, when it cannot be reached at start). */
export async function createRedisEngine(options: RedisEngineOptions): Promise<RedisEngine> {
  const link = new RedisLink(options);
  await link.start();
  const hub = new RedisHub(link, options.hub);
  const sessions = new RedisSessionStore(link, options.sessions);
  await sessions.start();
  const forwarder = new RedisForwarder(link, options.forwarder);
  await forwarder.start();
  const presence = new RedisPresence(link, options.presence);
  const health = (): HealthReport => ({
    ok: link.state === 'up',
    redis: link.health(),
    topics: hub.topicCount,
    sessions: sessions.size,
    hub: { ...hub.stats },
    forwarding: { ...forwarder.stats },
  });
  return {
    link,
    hub,
    sessions,
    forwarder,
    replay: new RedisReplayStore(link),
    presence,
    admission: ({ phase }) =>
      phase === 'connect' && link.state !== 'up'
        ? {
            status: 503,
            closeCode: CloseCode.TryAgainLater,
            code: 'ERR_UNAVAILABLE',
            message: 'redis unavailable: try again later',
            retryAfter: 1,
          }
        : null,
    health,
    install(target) {
      target.app.get(HEALTH_PATH, (c) => {
        const report = health();
        c.header('cache-control', 'no-store');
        return c.json(report, report.ok ? 200 : 503);
      });
    },
    async close() {
      await presence.close();
      await hub.close();
      sessions.clear();
      await link.close();
    },
  };
}
