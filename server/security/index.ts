/**
 * The server's security policy in one place, plugged into the seams every rung shares: the admission gate
 * (origin allow-list, per-IP handshake rate, connections per IP, tokens that must travel in a URL), the
 * connection guard (message rate, slow consumer), the protocol's `hello` check (tokens in the first message)
 * and `POST /rt/token`. See docs/security.md for each threat and the test that proves the defence.
 */
import type { Context } from 'hono';
import type { AdmissionRequest, Refusal } from '../../src/admission.ts';
import { CloseCode } from '../../src/close-codes.ts';
import type { HelloEnvelope } from '../../src/envelope.ts';
import type { MessageRate } from '../../src/negotiate.ts';
import type { ConnectionHandler, ServerConnection } from '../../src/transport.ts';
import {
  BucketsByKey,
  ConnectionCounter,
  type ConnectionLimits,
  DEFAULT_CONNECTION_LIMITS,
  guardConnections,
} from './limits.ts';
import { parseAllowedOrigins } from './origins.ts';
import { isRefusal, TokenAuthority, type TokenOptions } from './tokens.ts';

export { type DeploymentSettings, deploymentFromEnv } from './env.ts';
export { createRequestViewer, type ProxyOptions, type RequestView, type TrustProxy } from './forwarded.ts';
export { parseAllowedOrigins, parseOrigin, parsePublicUrl } from './origins.ts';

export const TOKEN_PATH = '/rt/token';

export interface SecurityOptions {
  /**
   * Origins allowed besides the server's own (same-origin is always allowed): `https://app.example.com`, or a
   * comma-separated string of them (`ALLOWED_ORIGINS`). `*` alone allows any (not advised). A malformed entry
   * throws ERR_INVALID_OPTION here, at start-up.
   */
  readonly allowedOrigins?: readonly string[] | string;
  /** Require a token on every connection (first message, or `token` URL parameter where the API allows nothing else). */
  readonly requireTokens?: boolean;
  readonly tokens?: TokenOptions;
  /** Who asks for a token (e.g. from the app's session cookie); null refuses. Default: 'anonymous'. */
  readonly subject?: (c: Context) => string | null | Promise<string | null>;
  /** Handshakes and upstream POSTs per IP: rate per second and burst. */
  readonly ipRequestsPerSecond?: number;
  readonly ipRequestBurst?: number;
  readonly connections?: Partial<ConnectionLimits>;
}

/**
 * What the app knows about a request beyond its headers: the origin the client reached this server at
 * (public URL, trusted proxy headers or `Host`; see ./forwarded.ts). Without it, `Host` decides.
 */
export interface SecurityAdmissionRequest extends AdmissionRequest {
  readonly ownOrigin?: string;
}

export interface Security {
  readonly admission: (request: SecurityAdmissionRequest) => Promise<Refusal | null>;
  readonly guard: (handler: ConnectionHandler) => ConnectionHandler;
  /**
   * For the protocol's `authenticate` hook: checks `hello.token` unless the handshake already did; a verified
   * token lets the connection in as its subject (`{ user }`, presence members' `user`).
   */
  readonly authenticateHello: (
    hello: HelloEnvelope,
    connection: ServerConnection,
  ) => Promise<Refusal | { readonly user: string } | null>;
  readonly tokens: TokenAuthority;
  readonly requireTokens: boolean;
  /** The per-connection message limit, announced in `/rt/negotiate` so that clients pace themselves below it. */
  readonly messageRate: MessageRate;
  /** Adds `POST /rt/token` to a Hono app; `ownOrigin` tells the origin a request reached the server at. */
  readonly install: (
    app: { post: (path: string, handler: (c: Context) => Response | Promise<Response>) => unknown },
    ownOrigin?: (c: Context) => string,
  ) => void;
}

/** Names the fix without naming the server's own (possibly upstream) address. */
export const FORBIDDEN_ORIGIN_HINT = 'behind a proxy, set publicUrl or trustProxy (docs/deploying.md)';

const forbiddenOrigin = (origin: string): Refusal => ({
  status: 403,
  closeCode: CloseCode.ForbiddenOrigin,
  code: 'ERR_FORBIDDEN_ORIGIN',
  message: `origin ${origin.slice(0, 80)} is not allowed; ${FORBIDDEN_ORIGIN_HINT}`,
});

export function createSecurity(options: SecurityOptions = {}): Security {
  const allowed = new Set(parseAllowedOrigins(options.allowedOrigins ?? []));
  const limits: ConnectionLimits = { ...DEFAULT_CONNECTION_LIMITS, ...options.connections };
  const counter = new ConnectionCounter();
  const ipBuckets = new BucketsByKey(options.ipRequestsPerSecond ?? 50, options.ipRequestBurst ?? 100);
  const tokens = new TokenAuthority(options.tokens);
  const requireTokens = options.requireTokens ?? false;
  /**
   * Tokens verified at the handshake (URL parameter), with their subject, so the hello carrying the same token
   * is not a replay.
   */
  const verifiedInUrl = new Map<string, string>();

  /** The refused Origin, or null when allowed. `ownOrigin`: where this request reached the server. */
  const originAllowed = (request: Request, ownOrigin: string): string | null => {
    const origin = request.headers.get('origin');
    // No Origin: not a browser (browsers send it on WebSocket upgrades, POSTs and cross-origin requests),
    // or a same-origin GET (EventSource), which is the page's own origin.
    if (origin === null) return null;
    if (allowed.has('*') || allowed.has(origin)) return null;
    if (origin === ownOrigin) return null;
    return origin;
  };

  const admission = async (req: SecurityAdmissionRequest): Promise<Refusal | null> => {
    const bad = originAllowed(req.request, req.ownOrigin ?? new URL(req.request.url).origin);
    if (bad !== null) return forbiddenOrigin(bad);
    // Handshakes pay the per-IP bucket. Requests of an established session (SSE POSTs, a resuming GET) do not:
    // their messages pay the connection's own bucket, and counting their requests per IP would refuse a
    // chatty SSE client, or many users behind one NAT, for sending as fast as the message limit allows.
    const wait = req.phase === 'post' ? 0 : ipBuckets.take(req.ip);
    if (wait > 0) {
      return {
        status: 429,
        closeCode: CloseCode.RateLimited,
        code: 'ERR_RATE_LIMITED',
        message: 'too many requests from this address',
        retryAfter: wait / 1000,
      };
    }
    if (req.phase === 'connect') {
      if (counter.count(req.ip) >= limits.maxConnectionsPerIp) {
        return {
          status: 429,
          closeCode: CloseCode.TooManyConnections,
          code: 'ERR_TOO_MANY_CONNECTIONS',
          message: `at most ${limits.maxConnectionsPerIp} connections per address`,
          retryAfter: 5,
        };
      }
      // Where the browser API cannot carry the token in a first message, it is in the URL.
      const token = new URL(req.request.url).searchParams.get('token');
      if (token !== null || (requireTokens && req.kind !== 'websocket')) {
        const result = await tokens.verify(token, req.request.headers.get('origin'));
        if (isRefusal(result)) return result;
        verifiedInUrl.set(token!, result.sub);
        setTimeout(() => verifiedInUrl.delete(token!), tokens.ttlSeconds * 1000 + 1000).unref?.();
      }
    }
    return null;
  };

  const authenticateHello = async (
    hello: HelloEnvelope,
    connection: ServerConnection,
  ): Promise<Refusal | { readonly user: string } | null> => {
    const urlToken = safeUrl(connection.request.url)?.searchParams.get('token');
    const urlSubject = urlToken ? verifiedInUrl.get(urlToken) : undefined;
    if (urlSubject !== undefined) return { user: urlSubject };
    if (!requireTokens && hello.token === undefined) return null;
    const result = await tokens.verify(hello.token, connection.request.origin);
    return isRefusal(result) ? result : { user: result.sub };
  };

  return {
    admission,
    guard: (handler) => guardConnections(handler, limits, counter),
    authenticateHello,
    tokens,
    requireTokens,
    messageRate: { messagesPerSecond: limits.messagesPerSecond, burst: limits.messageBurst },
    install(app, ownOriginOf) {
      app.post(TOKEN_PATH, async (c) => {
        c.header('cache-control', 'no-store');
        const origin = c.req.header('origin') ?? null;
        const ownOrigin = ownOriginOf ? ownOriginOf(c) : new URL(c.req.url).origin;
        const bad = originAllowed(c.req.raw, ownOrigin);
        if (bad !== null) return c.json(refusalBody(forbiddenOrigin(bad)), 403);
        const subject = options.subject ? await options.subject(c) : 'anonymous';
        if (subject === null) return c.json({ error: 'ERR_UNAUTHORIZED', message: 'not signed in' }, 401);
        return c.json({
          token: await tokens.issue(subject, origin ?? ownOrigin),
          expiresIn: tokens.ttlSeconds,
        });
      });
    },
  };
}

function refusalBody(refusal: Refusal) {
  return { error: refusal.code, message: refusal.message, closeCode: refusal.closeCode };
}

function safeUrl(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/** Removes tokens and secrets from a URL before it is logged. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:token|secret)=)[^&#]*/gi, '$1[redacted]');
}
