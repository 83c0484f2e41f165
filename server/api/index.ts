/**
 * The server API: what a backend in any language uses to talk to switchyard over plain HTTP (publish, batch
 * publish, history; presence and metrics plug in beside them). It is off unless an API key is configured: the
 * routes do not exist (404), and with a key every route needs `Authorization: Bearer <key>` (401 otherwise,
 * before any body is read). JSON in and out; errors in one shape (./errors.ts). See docs/server-api.md.
 */
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { isSwitchyardError } from '../../src/errors.ts';
import { DEFAULT_LIMITS } from '../../src/transport.ts';
import type { Hub } from '../hub/hub.ts';
import { createKeyCheck, requireKey } from './auth.ts';
import { ApiError, errorResponse } from './errors.ts';
import { mountHistory } from './history.ts';
import { mountPublish } from './publish.ts';

export { API_ERRORS, ApiError, type ApiErrorCode } from './errors.ts';
export { API_PATHS } from './paths.ts';
export { presenceRoutes } from './presence.ts';

export interface ServerApiOptions {
  /** The API key (or several, during a rotation); undefined or empty: the API is off and its routes are 404. */
  readonly key?: string | readonly string[] | undefined;
  /** The hub the API publishes to and reads history from: the protocol's, so API messages reach clients. */
  readonly hub: Hub;
  /** Largest `data` of one message, as JSON (default: the rungs' DEFAULT_LIMITS.maxMessageBytes, 1 MiB). */
  readonly maxMessageBytes?: number;
  /** Messages in one batch (default 1000). */
  readonly maxBatchMessages?: number;
  /** Largest batch body in bytes (default 8 MiB). */
  readonly maxBatchBytes?: number;
  /** Most messages one history read returns (default 1000; `limit` defaults to 100). */
  readonly maxHistory?: number;
  /** How long a publish `id` keeps a retry from publishing twice (default 10 min). */
  readonly idempotencyTtlMs?: number;
  /** More routes behind the same key (presence, metrics): each is called once with the app and the context. */
  readonly routes?: readonly ApiRoutes[];
}

export interface ApiLimits {
  readonly maxMessageBytes: number;
  readonly maxBatchMessages: number;
  readonly maxBatchBytes: number;
  readonly maxHistory: number;
  readonly idempotencyTtlMs: number;
}

/** What a route of the server API gets: the hub, the limits, the key check and the error handling. */
export interface ApiContext {
  readonly hub: Hub;
  readonly limits: ApiLimits;
  /** The bearer-key check; routes under `/rt/api/` already pass it, a route elsewhere adds it. */
  readonly requireKey: MiddlewareHandler;
  /**
   * The same key as a bearer token or as the password of HTTP Basic (any user name), with a Basic challenge:
   * for a page a browser opens from a link (the metrics text), where it prompts for the password.
   */
  readonly requireKeyOrPassword: MiddlewareHandler;
  /** Wraps a handler: an ApiError becomes its JSON answer, a hub failure a 503 `ERR_UNAVAILABLE`. */
  handle(handler: (c: Context) => Response | Promise<Response>): (c: Context) => Promise<Response>;
}

/** Adds routes to the app (paths under `/rt/api/` are behind the key already). */
export type ApiRoutes = (app: Hono, api: ApiContext) => void;

export const API_PREFIX = '/rt/api';

/**
 * Mounts the API on `app` when a key is configured; returns whether it did. Call it before the app's own
 * catch-all routes, if any.
 */
export function mountServerApi(app: Hono, options: ServerApiOptions): boolean {
  const key = options.key;
  if (key === undefined || key === '' || (typeof key !== 'string' && key.length === 0)) return false;
  const guard = requireKey(createKeyCheck(key));
  const limits: ApiLimits = {
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_LIMITS.maxMessageBytes,
    maxBatchMessages: options.maxBatchMessages ?? 1000,
    maxBatchBytes: options.maxBatchBytes ?? 8 * 1024 * 1024,
    maxHistory: options.maxHistory ?? 1000,
    idempotencyTtlMs: options.idempotencyTtlMs ?? 10 * 60 * 1000,
  };
  const context: ApiContext = {
    hub: options.hub,
    limits,
    requireKey: guard,
    requireKeyOrPassword: requireKey(
      createKeyCheck(key, { basic: true }),
      'Basic realm="switchyard", charset="UTF-8"',
    ),
    handle: (handler) => async (c) => {
      try {
        return await handler(c);
      } catch (error) {
        if (error instanceof ApiError) return errorResponse(c, error);
        const message = isSwitchyardError(error) ? error.message : 'the hub failed';
        return errorResponse(c, new ApiError('ERR_UNAVAILABLE', message), { 'retry-after': '1' });
      }
    },
  };
  app.use(`${API_PREFIX}/*`, guard);
  mountPublish(app, context);
  mountHistory(app, context);
  for (const routes of options.routes ?? []) routes(app, context);
  return true;
}

/** `API_KEY` (comma-separated for a rotation) from the environment; undefined when unset or empty. */
export function apiKeyFromEnv(env: (name: string) => string | undefined): readonly string[] | undefined {
  const keys = (env('API_KEY') ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '');
  return keys.length > 0 ? keys : undefined;
}
