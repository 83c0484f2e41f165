/**
 * Baseline: raw `ws` 8.23 beside a Hono app on @hono/node-server, as a Hono app that takes `ws` directly would
 * run it: one HTTP route served by Hono, upgrades handed to a `noServer` WebSocketServer that echoes every
 * message. It weighs what every Hono app on Node weighs (Hono, @hono/node-server and the undici it loads) and does
 * what raw `ws` does per message: the difference between it and bench/servers/raw-ws.ts is the framework's, and
 * the difference between it and our rung is ours (docs/benchmarks.md, "tenth round").
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { WebSocketServer } from 'ws';
import { serveControl } from './control.ts';
import { BENCH_MAX_MESSAGE_BYTES } from './limits.ts';

const app = new Hono();
app.get('/health', (c) => c.text('ok'));

const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  maxPayload: BENCH_MAX_MESSAGE_BYTES,
});
wss.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
});

const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
server.on('upgrade', (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
});
await new Promise((resolve) => server.once('listening', resolve));
// As an app serves pages beside its sockets: a request through Hono (in process: no fetch client loaded), so
// that what its Request and Response load on first use is loaded.
await (await app.request('/health')).text();
serveControl((server.address() as { port: number }).port);
