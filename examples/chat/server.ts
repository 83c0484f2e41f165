// The chat server, on Deno (the runtime here that serves HTTP/3 WebTransport to browsers): every rung,
// short-lived tokens for the page, a `chat` topic anyone in the room may post to, and an `announcements`
// topic the server itself posts to twice a second. Everything comes from the installed `switchyard`.
//   PORT (default 8080), HEARTBEAT_MS (default 15000), and the deployment settings PUBLIC_URL, ALLOWED_ORIGINS,
//   TRUST_PROXY (see switchyard's docs/deploying.md). Prints one JSON line when ready: { "url": ... }.

import { serveDeno } from 'switchyard/server/deno';
import { MemoryHub } from 'switchyard/server/hub';
import { createProtocol } from 'switchyard/server/protocol';
import { createSecurity, deploymentFromEnv } from 'switchyard/server/security';

const heartbeatMs = Number(Deno.env.get('HEARTBEAT_MS') ?? 15_000);
const { allowedOrigins, ...deployment } = deploymentFromEnv((name) => Deno.env.get(name));
const page = await Deno.readTextFile(new URL('./public/index.html', import.meta.url));
const bundle = await Deno.readTextFile(new URL('./dist/app.js', import.meta.url));
// The source map stays out of the bundle (it tripled what every page load parses); devtools fetch it.
const sourceMap = await Deno.readTextFile(new URL('./dist/app.js.map', import.meta.url));

const hub = new MemoryHub({ historySize: 10_000 });
const security = createSecurity({ requireTokens: true, ...(allowedOrigins ? { allowedOrigins } : {}) });
const protocol = createProtocol({
  hub,
  heartbeatMs,
  authenticate: security.authenticateHello,
  authorize: (operation, topic) =>
    operation === 'pub' && topic !== 'chat'
      ? { code: 'ERR_FORBIDDEN_TOPIC', message: 'only the chat topic takes posts' }
      : null,
});

let announcement = 0;
const ticker = setInterval(() => void hub.publish('announcements', { n: ++announcement }), 500);

const server = await serveDeno({
  port: Number(Deno.env.get('PORT') ?? 8080),
  heartbeatMs,
  security,
  onConnection: protocol.onConnection,
  ...deployment,
  configure: ({ app }) => {
    app.get('/', (c) => c.html(page));
    app.get('/app.js', (c) => c.body(bundle, 200, { 'content-type': 'text/javascript; charset=utf-8' }));
    app.get('/app.js.map', (c) => c.body(sourceMap, 200, { 'content-type': 'application/json' }));
  },
});
console.log(JSON.stringify({ url: server.url }));

const stop = async () => {
  clearInterval(ticker);
  await server.close();
  protocol.close();
  Deno.exit(0);
};
Deno.addSignalListener('SIGINT', stop);
Deno.addSignalListener('SIGTERM', stop);
