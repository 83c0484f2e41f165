/**
 * `npm start`: the demo server with every rung this machine can offer. Deno serves native HTTP/3
 * WebTransport here (the Node HTTP/3 addon cannot be installed on these machines), so when the `deno`
 * package is present the Deno binding serves all three rungs; otherwise the Node binding serves WebSocket
 * and SSE. PORT (default 8080) and HOST (default 127.0.0.1) choose where it listens; SIGINT/SIGTERM shut
 * down gracefully (clients get 1001). SWITCHYARD_RUNTIME=node forces the Node binding; TLS_CERT and
 * TLS_KEY (PEM paths) serve https/wss with a real certificate (Node binding).
 * Behind a reverse proxy (docs/deploying.md): PUBLIC_URL, ALLOWED_ORIGINS, TRUST_PROXY and TRUSTED_PROXIES
 * (./security/env.ts), read by both bindings; a malformed value stops the server with the variable's name.
 * REDIS_URL makes this process one node of several (hub, sessions and SSE upstream through Redis; /rt/health
 * reports it), with TOKEN_SECRET shared by all nodes and TICKER=0 on all but one: see docs/scale-out.md.
 * API_KEY (at least 16 characters; comma-separated for a rotation) turns on the server API (/rt/api/*) and the
 * metrics (/rt/metrics) behind `Authorization: Bearer <key>`: see docs/server-api.md.
 */

import { apiKeyFromEnv } from './api/index.ts';
import { buildDemoBundle } from './demo/bundle.ts';
import { demoFromEnv } from './demo/from-env.ts';
import { denoBinary, launchDenoServer } from './deno/launch.ts';
import { startNodeServer, tlsFromEnv } from './node.ts';
import { deploymentFromEnv } from './security/env.ts';

const port = Number(process.env.PORT ?? 8080);
const hostname = process.env.HOST ?? '127.0.0.1';
const heartbeatMs = Number(process.env.HEARTBEAT_MS ?? 15_000);
// Read before anything starts, so that a typo fails here, with the variable's name, for both bindings.
const { allowedOrigins, ...deployment } = deploymentFromEnv((name) => process.env[name]);
const apiKey = apiKeyFromEnv((name) => process.env[name]);
const bundle = await buildDemoBundle();

let close: () => Promise<void>;
let url: string;
let runtime: string;
const tls = tlsFromEnv();
if (denoBinary() && process.env.SWITCHYARD_RUNTIME !== 'node' && !tls) {
  const deno = await launchDenoServer({ port, hostname, heartbeatMs, bundle, inheritOutput: true });
  ({ url } = deno);
  runtime = 'deno (chosen: native HTTP/3 WebTransport is available through Deno on this machine)';
  close = () => deno.close();
} else {
  const log = (line: string) => console.log(line);
  const {
    server: fromDemo,
    engine,
    stop,
  } = await demoFromEnv((name) => process.env[name], {
    bundle,
    heartbeatMs,
    allowedOrigins,
    apiKey,
    log,
  });
  const server = await startNodeServer({
    port,
    hostname,
    heartbeatMs,
    ...deployment,
    ...fromDemo,
    ...(tls ? { tls } : {}),
    log,
  });
  url = server.url;
  runtime = engine ? 'node, hub on redis' : 'node';
  close = async () => {
    await server.close();
    await stop();
  };
}

const offered = (await (await fetch(`${url}/rt/negotiate`)).json()) as { transports: { kind: string }[] };
console.log(`switchyard demo on ${url} (runtime: ${runtime})`);
if (deployment.publicUrl) console.log(`public URL: ${deployment.publicUrl}`);
if (deployment.trustProxy) console.log(`trusting proxy headers: ${JSON.stringify(deployment.trustProxy)}`);
console.log(`rungs offered: ${offered.transports.map((t) => t.kind).join(', ')}`);
console.log(
  apiKey ? `server API on: ${url}/rt/api/ and ${url}/rt/metrics (API_KEY)` : 'server API off (set API_KEY)',
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: closing connections with 1001 and stopping`);
    await close();
    process.exit(0);
  });
}
