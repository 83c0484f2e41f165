/**
 * The Deno demo server (`npm start` launches it through ./launch.ts when Deno is installed): the demo app,
 * or with SWITCHYARD_APP=echo a transport-level echo server for the rung checks in test/, served by the
 * library binding (./serve.ts) with every rung including HTTP/3 WebTransport. Run directly:
 *   deno run --unstable-net --allow-net --allow-read --allow-env server/deno/main.ts
 * Environment: PORT, HOST, HEARTBEAT_MS, DEMO_BUNDLE (the page's bundle), CERT_ROTATE_MS, WEBTRANSPORT_PORT
 * and WEBTRANSPORT_HOST (where QUIC listens; default the HTTP port and HOST: behind a TCP-only proxy, the
 * public port and address), and the deployment settings of ../security/env.ts (PUBLIC_URL, ALLOWED_ORIGINS,
 * TRUST_PROXY, TRUSTED_PROXIES), and REDIS_URL / REDIS_PREFIX / TOKEN_SECRET / TICKER for one node of several
 * (docs/scale-out.md), and API_KEY for the server API and metrics (docs/server-api.md). Prints one JSON line when ready: { url, port, webTransportPort, rungs }.
 */
import type { ConnectionHandler } from '../../src/transport.ts';
import { apiKeyFromEnv } from '../api/index.ts';
import { createDemo } from '../demo/app.ts';
import { demoFromEnv } from '../demo/from-env.ts';
import { deploymentFromEnv } from '../security/env.ts';
import { serveDeno } from './serve.ts';

const env = (name: string) => Deno.env.get(name);
const heartbeatMs = Number(env('HEARTBEAT_MS') ?? 15_000);
const bundlePath = env('DEMO_BUNDLE');
/** `demo` (default): the demo app. `echo`: a transport-level echo server for the rung checks in test/. */
const appName = env('SWITCHYARD_APP') ?? 'demo';
const { allowedOrigins, ...deployment } = deploymentFromEnv(env);
const apiKey = apiKeyFromEnv(env);
const rotateMs = env('CERT_ROTATE_MS');
const wtPort = env('WEBTRANSPORT_PORT');
const wtHost = env('WEBTRANSPORT_HOST');

/** Echoes every message on its channel and with its reliability; `close:<code>:<reason>` on `ctl` closes. */
const echoApp: ConnectionHandler = (connection) => {
  connection.on('message', (m) => {
    if (m.channel === 'ctl' && typeof m.data === 'string' && m.data.startsWith('close:')) {
      const [, code, reason] = m.data.split(':');
      connection.close(Number(code), reason ?? '');
      return;
    }
    connection.send(m.data, { channel: m.channel, reliable: !m.unreliable }).catch(() => {});
  });
};

const bundle = bundlePath ? await Deno.readTextFile(bundlePath) : '';
// The same demo as under Node (./from-env.ts); the `echo` test app goes without tokens, Redis or the API, but
// with the demo's page, which the rung checks load.
const app =
  appName === 'echo'
    ? (() => {
        const demo = createDemo({ bundle, heartbeatMs });
        return {
          server: { onConnection: echoApp, configure: demo.configure },
          stop: () => demo.stop(),
        };
      })()
    : await demoFromEnv(env, {
        bundle,
        heartbeatMs,
        allowedOrigins,
        apiKey,
        log: (line) => console.error(line),
      });

const server = await serveDeno({
  port: Number(env('PORT') ?? 8080),
  hostname: env('HOST') ?? '127.0.0.1',
  heartbeatMs,
  ...deployment,
  ...app.server,
  webTransport: {
    ...(rotateMs ? { rotateMs: Number(rotateMs) } : {}),
    ...(wtPort ? { port: Number(wtPort) } : {}),
    ...(wtHost ? { hostname: wtHost } : {}),
  },
});

console.log(
  JSON.stringify({
    url: server.url,
    port: server.port,
    webTransportPort: server.webTransportPort,
    runtime: 'deno',
    rungs: ['webtransport', 'websocket', 'sse'],
  }),
);

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await server.close();
  await app.stop();
  Deno.exit(0);
}
Deno.addSignalListener('SIGINT', shutdown);
Deno.addSignalListener('SIGTERM', shutdown);
