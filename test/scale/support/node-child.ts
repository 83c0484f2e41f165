/**
 * One switchyard node as a separate process for the scale-out tests: the real Node server, the real protocol,
 * and the Redis engine (hub, sessions, SSE forwarding, /rt/health), exactly as `npm start` wires them with
 * REDIS_URL. Prints `{ port, nodeId }` once listening. Test-only routes: `POST /__test/clock?offsetMs=N` moves
 * the hub's clock (history window tests without sleeping), `GET /__test/stats` returns protocol counters.
 *
 * env: REDIS_URL, REDIS_PREFIX, PORT (default 0), HEARTBEAT_MS (default 15000), HISTORY_SIZE, COMMAND_TIMEOUT_MS,
 * HUB=memory (the embedded hub and sessions instead, for the one-node baseline of bench/scale-throughput.ts),
 * SESSIONS=memory (the Redis hub with the embedded session store: tests of the hub alone, clients pinned to
 * one node), API_KEY (the server API and metrics on this node), TOKEN_SECRET (hex: tokens required on every
 * connection, verified with this shared key and spent in Redis, as `npm start` does), MAX_CONNECTIONS_PER_SESSION.
 */
import { mountServerApi } from '../../../server/api/index.ts';
import { presenceRoutes } from '../../../server/api/presence.ts';
import { MemoryHub } from '../../../server/hub/memory.ts';
import { createMetrics } from '../../../server/metrics/index.ts';
import { startNodeServer } from '../../../server/node.ts';
import { createProtocol } from '../../../server/protocol/index.ts';
import { tokenSecretFromEnv } from '../../../server/redis/env.ts';
import { createRedisEngine } from '../../../server/redis/index.ts';
import { createSecurity } from '../../../server/security/index.ts';

const heartbeatMs = Number(process.env.HEARTBEAT_MS ?? 15_000);
let offsetMs = 0;
const engine = await createRedisEngine({
  url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  prefix: process.env.REDIS_PREFIX ?? 'switchyard',
  commandTimeoutMs: Number(process.env.COMMAND_TIMEOUT_MS ?? 2000),
  log: (line) => process.stderr.write(`${line}\n`),
  hub: { historySize: Number(process.env.HISTORY_SIZE ?? 1000), now: () => Date.now() + offsetMs },
  sessions: {
    graceMs: 30_000,
    ...(process.env.MAX_CONNECTIONS_PER_SESSION
      ? { maxConnectionsPerSession: Number(process.env.MAX_CONNECTIONS_PER_SESSION) }
      : {}),
  },
});
const secret = tokenSecretFromEnv((name) => process.env[name]);
const security = secret
  ? createSecurity({ requireTokens: true, tokens: { secret, replay: engine.replay } })
  : undefined;
const memory = process.env.HUB === 'memory';
const protocol = createProtocol({
  hub: memory ? new MemoryHub() : engine.hub,
  ...(memory || process.env.SESSIONS === 'memory' ? {} : { sessionStore: engine.sessions }),
  ...(memory ? {} : { presence: engine.presence }),
  heartbeatMs,
  ...(security ? { authenticate: security.authenticateHello } : {}),
});
// API_KEY: the server API (and metrics) behind that key, on this node's hub (test/api/api-redis.test.ts).
const metrics = process.env.API_KEY ? createMetrics({ redis: engine.link, process: false }) : undefined;
const server = await startNodeServer({
  port: Number(process.env.PORT ?? 0),
  heartbeatMs,
  admission: engine.admission,
  ...(security ? { security } : {}),
  sseForwarder: engine.forwarder,
  onConnection: protocol.onConnection,
  configure: (app) => {
    engine.install(app);
    metrics?.attach(app);
    mountServerApi(app.app, {
      key: process.env.API_KEY,
      hub: protocol.hub,
      routes: [presenceRoutes(protocol.presence), ...(metrics ? [metrics.routes] : [])],
    });
    app.app.post('/__test/clock', (c) => {
      offsetMs = Number(c.req.query('offsetMs') ?? 0);
      return c.json({ offsetMs });
    });
    app.app.get('/__test/stats', (c) =>
      c.json({
        ...protocol.stats,
        active: protocol.activeConnections,
        ...engine.health(),
        replay: engine.replay.stats,
      }),
    );
  },
});

for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.on(signal, async () => {
    const deadline = setTimeout(() => process.exit(0), 3000);
    await server.close();
    clearTimeout(deadline);
    protocol.close();
    await engine.close();
    process.exit(0);
  });

process.stdout.write(`${JSON.stringify({ port: server.port, nodeId: engine.link.nodeId })}\n`);
