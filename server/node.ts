/**
 * Node runtime binding: @hono/node-server with `ws` for the WebSocket upgrade. Starts the app on a port
 * (0 for tests) and shuts down gracefully: every client gets 1001 after its queued data drained.
 */
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders, IncomingMessage, Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { RequestError, serve, upgradeWebSocket } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { type WebSocket, WebSocketServer } from 'ws';
import { CloseCode } from '../src/close-codes.ts';
import type { ServerTransportLimits } from '../src/transport.ts';
import { WEBSOCKET_PROTOCOL } from '../transports/websocket/client.ts';
import { acceptNodeWebSocket, NodeSocketGroup } from '../transports/websocket/server-node.ts';
import { createSwitchyardApp, type SwitchyardApp, type SwitchyardAppOptions } from './app.ts';
import type { RuntimeBinding } from './binding.ts';

export interface NodeServerOptions extends Omit<SwitchyardAppOptions, 'binding'> {
  readonly port?: number;
  readonly hostname?: string;
  /** Protocol-level ping interval for WebSocket peers (dead TCP detection); default: the heartbeat interval. */
  readonly wsPingIntervalMs?: number;
  /** Serve https/wss with this certificate and key (PEM). `tlsFromEnv()` reads TLS_CERT / TLS_KEY paths. */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Lets the caller add routes (demo page, tokens) before the server starts listening. */
  readonly configure?: (app: SwitchyardApp) => void;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly app: SwitchyardApp;
  /** Graceful: close code 1001 to every client after in-flight data drains, then stop listening. */
  close(code?: number): Promise<void>;
}

/**
 * Set in the env of an upgrade request by `attachWebSocketUpgrades`: the binding stores there what to do with the
 * socket once the app has let the request through.
 */
const UPGRADE = Symbol('switchyard.upgrade');

interface UpgradeEnv {
  readonly incoming: IncomingMessage;
  readonly outgoing: undefined;
  [UPGRADE]: ((ws: WebSocket) => void) | null;
}

function isUpgradeEnv(env: unknown): env is UpgradeEnv {
  return typeof env === 'object' && env !== null && UPGRADE in env;
}

/** The Response an accepted upgrade returns to the app (its middleware may still add headers to it). */
const upgraded = () => new Response(null);

/** The sockets are pinged every `pingIntervalMs()` and tracked by whoever runs the `ws` server. */
export function nodeBinding(pingIntervalMs: () => number): RuntimeBinding {
  return bindingWithGroup(pingIntervalMs);
}

/**
 * `group`: where the server keeps its sockets (pinged at its interval, terminated at shutdown). Not exported: the
 * group's type would pull `ws`'s types into the published declarations.
 */
function bindingWithGroup(pingIntervalMs: () => number, group?: () => NodeSocketGroup): RuntimeBinding {
  const options = (limits: ServerTransportLimits) => ({
    limits,
    pingIntervalMs: pingIntervalMs(),
    ...(group ? { group: group() } : {}),
  });
  const binding: RuntimeBinding = {
    runtime: 'node',
    remoteAddress: (c: Context) => getConnInfo(c).remote.address ?? 'unknown',
    upgradeWebSocket: (c, limits, accept, request) => {
      const env: unknown = c.env;
      if (isUpgradeEnv(env)) {
        // Our own upgrade path (attachWebSocketUpgrades): this closure keeps only `request` (the copy the
        // connection carries), not the Context, the Request or the IncomingMessage.
        const accepted = options(limits);
        env[UPGRADE] = (ws) => accept(acceptNodeWebSocket(ws, request, accepted));
        return upgraded();
      }
      // A server started with @hono/node-server's own `websocket` option (bench/scale-fanout.ts): its helper.
      const handler = upgradeWebSocket(() => ({
        onOpen: (_event, ws) => {
          accept(acceptNodeWebSocket(ws.raw as WebSocket, request, options(limits)));
        },
      }));
      return handler(c, async () => {}) as Promise<Response>;
    },
  };
  return binding;
}

export async function startNodeServer(options: NodeServerOptions): Promise<RunningServer> {
  let pingMs = 0;
  let sockets: NodeSocketGroup | undefined;
  // Made on the first upgrade, once the interval is known.
  const group = () => (sockets ??= new NodeSocketGroup(pingMs));
  const switchyard = createSwitchyardApp({ ...options, binding: bindingWithGroup(() => pingMs, group) });
  pingMs = options.wsPingIntervalMs ?? switchyard.heartbeatMs;
  options.configure?.(switchyard);
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: switchyard.limits.maxMessageBytes + 65,
    perMessageDeflate: false,
    // The binding's socket group tracks the sockets (one Set entry, no closure and second `close` listener each).
    clientTracking: false,
    // Echo our subprotocol when offered, accept clients that offer none (tools, fuzzers).
    handleProtocols: (protocols) => (protocols.has(WEBSOCKET_PROTOCOL) ? WEBSOCKET_PROTOCOL : false),
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve(
      {
        fetch: switchyard.app.fetch,
        port: options.port ?? 0,
        hostname: options.hostname ?? '127.0.0.1',
        ...(options.tls
          ? {
              createServer: createHttpsServer,
              serverOptions: { cert: options.tls.cert, key: options.tls.key },
            }
          : {}),
      },
      () => resolve(s),
    );
    attachWebSocketUpgrades(s as Server, switchyard.app.fetch, wss);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `${options.tls ? 'https' : 'http'}://${host}:${address.port}`,
    port: address.port,
    app: switchyard,
    async close(code = CloseCode.GoingAway) {
      await switchyard.registry.closeAll(code);
      sockets?.terminateAll();
      // Streams that ended (SSE after its close event) finish on their own; cut what is left after a grace.
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeIdleConnections' in server) server.closeIdleConnections();
        const force = setTimeout(() => {
          if ('closeAllConnections' in server) server.closeAllConnections();
        }, 1000);
        force.unref();
      });
    },
  };
}

/** A real certificate by path: TLS_CERT and TLS_KEY (PEM files). Undefined when not configured. */
export function tlsFromEnv(env: NodeJS.ProcessEnv = process.env): { cert: string; key: string } | undefined {
  if (!env.TLS_CERT || !env.TLS_KEY) return undefined;
  return { cert: readFileSync(env.TLS_CERT, 'utf8'), key: readFileSync(env.TLS_KEY, 'utf8') };
}

type Fetch = (request: Request, env: UpgradeEnv) => Response | Promise<Response>;

/**
 * Serves WebSocket upgrades of `server` through the app, then `ws`'s `handleUpgrade` directly: what
 * @hono/node-server's `websocket` option does, without its per-socket WSContext, which kept the upgrade's Hono
 * Context, Request, IncomingMessage and two URLs alive for as long as the socket (docs/benchmarks.md, memory). The
 * app decides exactly as before: a refused upgrade gets the status and headers of the app's response, and an
 * accepted one the headers the app's middleware added.
 */
function attachWebSocketUpgrades(server: Server, fetch: Fetch, wss: WebSocketServer): void {
  server.on('upgrade', (incoming: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (incoming.headers.upgrade?.toLowerCase() !== 'websocket') return;
    void upgrade(server, fetch, wss, incoming, socket, head);
  });
  server.on('close', () => wss.close());
}

const ignoreSocketError = () => {};

async function upgrade(
  server: Server,
  fetch: Fetch,
  wss: WebSocketServer,
  incoming: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  socket.on('error', ignoreSocketError);
  const env: UpgradeEnv = { incoming, outgoing: undefined, [UPGRADE]: null };
  let response: Response;
  try {
    response = await fetch(upgradeRequest(incoming), env);
  } catch (error) {
    if (server.listenerCount('upgrade') === 1)
      refuseUpgrade(socket, error instanceof RequestError ? 400 : 500);
    return;
  }
  const open = env[UPGRADE];
  env[UPGRADE] = null;
  if (socket.destroyed) return;
  if (!open) {
    if (server.listenerCount('upgrade') === 1) refuseUpgrade(socket, response.status, response.headers);
    return;
  }
  forgetPeerAddress(socket);
  const addHeaders = (lines: string[]) => appendResponseHeaders(lines, response.headers);
  wss.on('headers', addHeaders);
  try {
    wss.handleUpgrade(incoming, socket, head, (ws) => {
      socket.off('error', ignoreSocketError);
      open(ws);
    });
  } finally {
    wss.off('headers', addHeaders);
  }
}

/**
 * Node caches the peer's address on a socket once it is read (`_peername`, 88 bytes), for the socket's whole life.
 * The app has read it for the request (`ip`); an upgraded socket keeps it as long as the WebSocket is open and
 * nothing reads it again (a later read fetches it anew). Not public API: where it is missing this does nothing.
 */
function forgetPeerAddress(socket: Duplex): void {
  const cached = socket as Duplex & { _peername?: unknown };
  if (cached._peername !== undefined) cached._peername = undefined;
}

/** Headers a WebSocket handshake response must not copy from the app's response (`ws` writes its own). */
const SKIPPED_HEADERS = new Set([
  'connection',
  'content-length',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'sec-websocket-accept',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
]);

function appendResponseHeaders(lines: string[], headers: Headers | undefined): void {
  headers?.forEach((value, key) => {
    if (!SKIPPED_HEADERS.has(key.toLowerCase())) lines.push(`${key}: ${value}`);
  });
}

function refuseUpgrade(socket: Duplex, status: number, headers?: Headers): void {
  if (socket.destroyed) return;
  const lines = ['Connection: close', 'Content-Length: 0'];
  appendResponseHeaders(lines, headers);
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${lines.join('\r\n')}\r\n\r\n`);
}

/** Valid `Host` values that need no URL parsing (the same rule as @hono/node-server's). */
const PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;

/**
 * The WHATWG Request the app sees for an upgrade, built the way @hono/node-server builds it (same URL checks:
 * a backslash in the path or a Host that does not parse to itself is a 400).
 */
function upgradeRequest(incoming: IncomingMessage): Request {
  const scheme = (incoming.socket as Socket & { encrypted?: boolean }).encrypted ? 'https' : 'http';
  const target = incoming.url ?? '/';
  let url: string;
  if (target[0] !== '/' && (target.startsWith('http://') || target.startsWith('https://'))) {
    checkTarget(target);
    url = new URL(target).href;
  } else {
    const host = incoming.headers.host ?? 'localhost';
    if (target[0] !== '/') throw new RequestError('Invalid URL');
    checkTarget(target);
    const parsed = new URL(`${scheme}://${host}${target}`);
    if (
      !PLAIN_HOST.test(host) &&
      parsed.hostname.length !== host.length &&
      parsed.hostname !== (host.includes(':') ? host.replace(/:\d+$/, '') : host).toLowerCase()
    ) {
      throw new RequestError('Invalid host header');
    }
    url = parsed.href;
  }
  return new Request(url, { headers: requestHeaders(incoming.headers) });
}

/**
 * The upgrade request's headers as the `Request` takes them. Node's header object itself when every value is a
 * non-empty string (the usual case): the `Request` converts a record in one pass, where a `Headers` built by
 * `append` is a second object whose entries the `Request` then copies into its own (measured: 5.1 against 7.4 KB
 * allocated per request, each upgrade's garbage). Otherwise the value-by-value rule: an array (`set-cookie`, which
 * clients do not send) gives its first value, and an empty value is left out.
 */
function requestHeaders(headers: IncomingHttpHeaders): Record<string, string> | Headers {
  for (const key in headers) {
    const value = headers[key];
    if (typeof value !== 'string' || value === '') return headersOneByOne(headers);
  }
  return headers as Record<string, string>;
}

function headersOneByOne(incoming: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(incoming)) {
    if (value) headers.append(key, Array.isArray(value) ? (value[0] ?? '') : value);
  }
  return headers;
}

function checkTarget(target: string): void {
  const backslash = target.indexOf('\\');
  if (backslash !== -1) {
    const query = target.indexOf('?');
    if (query === -1 || backslash < query) throw new RequestError('Backslash in request path');
  }
}
