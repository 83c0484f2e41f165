/**
 * The Hono app every runtime serves: discovery (`/rt/negotiate`), the WebSocket and SSE+POST rungs, and the
 * demo page. Rungs hand their connections to one `onConnection` handler; nothing here branches on a rung.
 */
import { Hono } from 'hono';
import { type Admission, admitAll, refusalResponse } from '../src/admission.ts';
import type { NegotiateResponse, OfferedTransport } from '../src/negotiate.ts';
import type { ConnectionHandler, ServerTransportLimits } from '../src/transport.ts';
import { DEFAULT_LIMITS } from '../src/transport.ts';
import { createSseRoutes } from '../transports/sse/server.ts';
import { connectionRequest, type RuntimeBinding } from './binding.ts';
import { ConnectionRegistry } from './connections.ts';
import { redactUrl, type Security, TOKEN_PATH } from './security/index.ts';

export const PATHS = {
  negotiate: '/rt/negotiate',
  websocket: '/rt/ws',
  sse: '/rt/sse',
} as const;

export interface SwitchyardAppOptions {
  readonly binding: RuntimeBinding;
  readonly onConnection: ConnectionHandler;
  readonly limits?: Partial<ServerTransportLimits>;
  /** Application heartbeat interval the clients are told to use. */
  readonly heartbeatMs?: number;
  readonly admission?: Admission;
  /** Rungs served outside this app (WebTransport), added to `/rt/negotiate` by the binding. */
  readonly extraOffers?: (request: Request) => OfferedTransport[];
  /** Extra fields for `/rt/negotiate` (e.g. `tokenUrl`). */
  readonly negotiateExtras?: () => Partial<NegotiateResponse>;
  /** Origin allow-list, tokens, rate and connection limits (server/security). */
  readonly security?: Security;
  /** Request log sink; URLs are logged with tokens and secrets redacted. */
  readonly log?: (line: string) => void;
}

export interface SwitchyardApp {
  readonly app: Hono;
  readonly registry: ConnectionRegistry;
  readonly limits: ServerTransportLimits;
  readonly heartbeatMs: number;
  readonly onConnection: ConnectionHandler;
  readonly admission: Admission;
}

export function createSwitchyardApp(options: SwitchyardAppOptions): SwitchyardApp {
  const limits: ServerTransportLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const security = options.security;
  const appAdmission = options.admission ?? admitAll;
  const admission: Admission = security
    ? async (request) => (await security.admission(request)) ?? appAdmission(request)
    : appAdmission;
  const registry = new ConnectionRegistry();
  const onConnection = registry.track(security ? security.guard(options.onConnection) : options.onConnection);
  const app = new Hono();
  const log = options.log;
  if (log) {
    app.use(async (c, next) => {
      await next();
      const url = new URL(c.req.url);
      log(`${c.req.method} ${redactUrl(url.pathname + url.search)} ${c.res.status}`);
    });
  }
  security?.install(app);

  app.get(PATHS.negotiate, (c) => {
    const url = new URL(c.req.url);
    const wsUrl = new URL(PATHS.websocket, url);
    wsUrl.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const transports: OfferedTransport[] = [
      ...(options.extraOffers?.(c.req.raw) ?? []),
      { kind: 'websocket', url: wsUrl.href },
      {
        kind: 'sse',
        url: new URL(PATHS.sse, url).href,
        postUrl: `${new URL(PATHS.sse, url).href}/{session}`,
      },
    ];
    const body: NegotiateResponse = {
      transports,
      heartbeatMs,
      maxMessageBytes: limits.maxMessageBytes,
      ...(security?.requireTokens ? { tokenUrl: new URL(TOKEN_PATH, url).href } : {}),
      ...(security ? { rate: security.messageRate } : {}),
      ...options.negotiateExtras?.(),
    };
    c.header('cache-control', 'no-store');
    return c.json(body);
  });

  app.get(PATHS.websocket, async (c) => {
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
      return c.json({ error: 'ERR_UPGRADE_REQUIRED', message: 'this endpoint only speaks WebSocket' }, 426);
    }
    const ip = options.binding.remoteAddress(c);
    const refusal = await admission({ request: c.req.raw, ip, kind: 'websocket', phase: 'connect' });
    if (refusal) return refusalResponse(refusal);
    return options.binding.upgradeWebSocket(c, limits, onConnection);
  });

  app.route(
    PATHS.sse,
    createSseRoutes({
      onConnection,
      limits,
      heartbeatMs,
      admission,
      connectionRequest: (c) => connectionRequest(c, options.binding),
    }),
  );

  return { app, registry, limits, heartbeatMs, onConnection, admission };
}
