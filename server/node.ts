/**
 * Node runtime binding: @hono/node-server with `ws` for the WebSocket upgrade. Starts the app on a port
 * (0 for tests) and shuts down gracefully: every client gets 1001 after its queued data drained.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { serve, upgradeWebSocket } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { type WebSocket, WebSocketServer } from 'ws';
import { CloseCode } from '../src/close-codes.ts';
import { WEBSOCKET_PROTOCOL } from '../transports/websocket/client.ts';
import { acceptNodeWebSocket } from '../transports/websocket/server-node.ts';
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

export function nodeBinding(pingIntervalMs: () => number): RuntimeBinding {
  const binding: RuntimeBinding = {
    runtime: 'node',
    remoteAddress: (c: Context) => getConnInfo(c).remote.address ?? 'unknown',
    upgradeWebSocket: (c, limits, accept, request) => {
      const handler = upgradeWebSocket(() => ({
        onOpen: (_event, ws) => {
          accept(
            acceptNodeWebSocket(ws.raw as WebSocket, request, { limits, pingIntervalMs: pingIntervalMs() }),
          );
        },
      }));
      return handler(c, async () => {}) as Promise<Response>;
    },
  };
  return binding;
}

export async function startNodeServer(options: NodeServerOptions): Promise<RunningServer> {
  let pingMs = 0;
  const switchyard = createSwitchyardApp({ ...options, binding: nodeBinding(() => pingMs) });
  pingMs = options.wsPingIntervalMs ?? switchyard.heartbeatMs;
  options.configure?.(switchyard);
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: switchyard.limits.maxMessageBytes + 65,
    perMessageDeflate: false,
    // Echo our subprotocol when offered, accept clients that offer none (tools, fuzzers).
    handleProtocols: (protocols) => (protocols.has(WEBSOCKET_PROTOCOL) ? WEBSOCKET_PROTOCOL : false),
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve(
      {
        fetch: switchyard.app.fetch,
        port: options.port ?? 0,
        hostname: options.hostname ?? '127.0.0.1',
        websocket: { server: wss },
        ...(options.tls
          ? {
              createServer: createHttpsServer,
              serverOptions: { cert: options.tls.cert, key: options.tls.key },
            }
          : {}),
      },
      () => resolve(s),
    );
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `${options.tls ? 'https' : 'http'}://${host}:${address.port}`,
    port: address.port,
    app: switchyard,
    async close(code = CloseCode.GoingAway) {
      await switchyard.registry.closeAll(code);
      for (const client of wss.clients) client.terminate();
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
