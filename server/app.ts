/**
 * The Hono app every runtime serves: discovery (`/rt/negotiate`), the WebSocket and SSE+POST rungs, and the
 * demo page. Rungs hand their connections to one `onConnection` handler; nothing here branches on a rung.
 *
 * Behind a reverse proxy the `Host` header names the upstream, so nothing here is derived from it unless the
 * deployment says so: `/rt/negotiate` answers URLs relative to itself (the client resolves them against the
 * URL it fetched), or absolute ones on `publicUrl`; the client's address and the origin it reached us at
 * come from ./security/forwarded.ts (public URL, trusted proxy headers, else the socket and `Host`).
 */
import { type Context, Hono } from 'hono';
import { type Admission, admitAll, type Refusal, refusalResponse } from '../src/admission.ts';
import type { NegotiateResponse, OfferedTransport } from '../src/negotiate.ts';
import type { ConnectionHandler, ServerTransportLimits } from '../src/transport.ts';
import { DEFAULT_LIMITS } from '../src/transport.ts';
import type { SseForwarder } from '../transports/sse/forward.ts';
import { createSseRoutes } from '../transports/sse/server.ts';
import { connectionRequest, type RuntimeBinding } from './binding.ts';
import { ConnectionRegistry } from './connections.ts';
import {
  createRequestViewer,
  type RequestView,
  type RequestViewer,
  type TrustProxy,
} from './security/forwarded.ts';
import { redactUrl, type Security, TOKEN_PATH } from './security/index.ts';
import { parsePublicUrl } from './security/origins.ts';

export const PATHS = {
  negotiate: '/rt/negotiate',
  websocket: '/rt/ws',
  sse: '/rt/sse',
  webtransport: '/rt/wt',
} as const;

export interface SwitchyardAppOptions {
  readonly binding: RuntimeBinding;
  readonly onConnection: ConnectionHandler;
  readonly limits?: Partial<ServerTransportLimits>;
  /** Application heartbeat interval the clients are told to use. */
  readonly heartbeatMs?: number;
  readonly admission?: Admission;
  /**
   * Rungs served outside this app (WebTransport), added to `/rt/negotiate` by the binding. Their `url` is a
   * path on this server (`/rt/wt`), published like the app's own, or an absolute URL, published as is.
   */
  readonly extraOffers?: (request: Request) => OfferedTransport[];
  /**
   * Where browsers reach this server, e.g. `https://example.com` or `https://example.com/realtime` (a prefix the
   * proxy strips). Negotiate URLs are then absolute on it and its origin is this server's own origin in the
   * same-origin check. Default: relative negotiate URLs, own origin from trusted proxy headers or `Host`.
   */
  readonly publicUrl?: string;
  /** Read the client's address and origin from proxy headers (never by default); see ./security/forwarded.ts. */
  readonly trustProxy?: TrustProxy;
  /** Extra fields for `/rt/negotiate` (e.g. `tokenUrl`). */
  readonly negotiateExtras?: () => Partial<NegotiateResponse>;
  /** Origin allow-list, tokens, rate and connection limits (server/security). */
  readonly security?: Security;
  /** Request log sink; URLs are logged with tokens and secrets redacted. */
  readonly log?: (line: string) => void;
  /** Several nodes with no affinity: SSE POSTs for a session held elsewhere go there (server/redis). */
  readonly sseForwarder?: SseForwarder;
}

export interface SwitchyardApp {
  readonly app: Hono;
  readonly registry: ConnectionRegistry;
  readonly limits: ServerTransportLimits;
  readonly heartbeatMs: number;
  readonly onConnection: ConnectionHandler;
  readonly admission: Admission;
  /** The client's address and the origin it reached this server at (proxy-aware, see ./security/forwarded.ts). */
  readonly view: RequestViewer;
}

/**
 * How `/rt/negotiate` publishes a path on this server: relative to the negotiate URL (`ws`, `sse`, `../x`),
 * which survives any host, port and path prefix a proxy puts in front, or absolute on the public URL.
 */
function offerUrl(path: string, publicUrl: URL | undefined, scheme?: 'ws' | 'https'): string {
  if (!publicUrl) {
    const base = PATHS.negotiate.slice(0, PATHS.negotiate.lastIndexOf('/') + 1);
    return path.startsWith(base) ? path.slice(base.length) : `..${path}`;
  }
  const url = new URL(`.${path}`, publicUrl);
  if (scheme === 'ws') url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (scheme === 'https') url.protocol = 'https:';
  return url.href;
}

export function createSwitchyardApp(options: SwitchyardAppOptions): SwitchyardApp {
  const limits: ServerTransportLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const security = options.security;
  const publicUrl = options.publicUrl === undefined ? undefined : parsePublicUrl(options.publicUrl);
  const viewer = createRequestViewer({ publicUrl: options.publicUrl, trustProxy: options.trustProxy });
  // Computed once per request from the socket's peer (trust is decided on the peer, not on a forwarded address).
  const views = new WeakMap<Request, RequestView>();
  const view: RequestViewer = (request, peerIp) => {
    let seen = views.get(request);
    if (!seen) {
      seen = viewer(request, peerIp);
      views.set(request, seen);
    }
    return seen;
  };
  const viewOf = (c: Context) => view(c.req.raw, options.binding.remoteAddress(c));
  // Every rung reads the client's address through the binding: make it the proxy-aware one.
  const binding: RuntimeBinding = { ...options.binding, remoteAddress: (c) => viewOf(c).ip };
  const appAdmission = options.admission ?? admitAll;
  const admit: Admission = security
    ? async (request) =>
        (await security.admission({ ...request, ownOrigin: view(request.request, request.ip).origin })) ??
        appAdmission(request)
    : appAdmission;
  const registry = new ConnectionRegistry();
  // Refusals are told to the registry (metrics count them); an admitted request pays one comparison.
  const noteRefusal = (kind: string, refusal: Refusal | null) => {
    if (refusal) registry.onRefusal?.(kind, refusal.code);
    return refusal;
  };
  const admission: Admission = (request) => {
    const verdict = admit(request);
    return verdict instanceof Promise
      ? verdict.then((refusal) => noteRefusal(request.kind, refusal))
      : noteRefusal(request.kind, verdict);
  };
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
  security?.install(app, (c) => viewOf(c).origin);

  app.get(PATHS.negotiate, (c) => {
    const extra = (options.extraOffers?.(c.req.raw) ?? []).map((offer) =>
      offer.url.startsWith('/')
        ? {
            ...offer,
            url: offerUrl(offer.url, publicUrl, offer.kind === 'webtransport' ? 'https' : undefined),
          }
        : offer,
    );
    const sse = offerUrl(PATHS.sse, publicUrl);
    const transports: OfferedTransport[] = [
      ...extra,
      { kind: 'websocket', url: offerUrl(PATHS.websocket, publicUrl, 'ws') },
      { kind: 'sse', url: sse, postUrl: `${sse}/{session}` },
    ];
    const body: NegotiateResponse = {
      transports,
      heartbeatMs,
      maxMessageBytes: limits.maxMessageBytes,
      ...(security?.requireTokens ? { tokenUrl: offerUrl(TOKEN_PATH, publicUrl) } : {}),
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
    const ip = binding.remoteAddress(c);
    const refusal = await admission({ request: c.req.raw, ip, kind: 'websocket', phase: 'connect' });
    if (refusal) return refusalResponse(refusal);
    return binding.upgradeWebSocket(c, limits, onConnection, connectionRequest(c, binding));
  });

  app.route(
    PATHS.sse,
    createSseRoutes({
      onConnection,
      limits,
      heartbeatMs,
      admission,
      connectionRequest: (c) => connectionRequest(c, binding),
      remoteAddress: binding.remoteAddress,
      ...(options.sseForwarder ? { forwarder: options.sseForwarder } : {}),
    }),
  );

  return { app, registry, limits, heartbeatMs, onConnection, admission, view };
}
