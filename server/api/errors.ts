/**
 * The server API's one error shape, so that a backend in any language can branch on a stable code instead of
 * parsing prose: `{ "error": "ERR_...", "message": "...", ...details }` with the HTTP status of the table in
 * docs/server-api.md. The same flat shape as the rest of the server's JSON refusals (src/admission.ts).
 */
import type { Context } from 'hono';

export const API_ERRORS = {
  /** Missing, malformed or wrong `Authorization: Bearer <key>`. Nothing was read or changed. */
  ERR_UNAUTHORIZED: 401,
  /** The body is not JSON, or not the JSON object the endpoint takes. */
  ERR_MALFORMED: 400,
  /** A field is missing or has the wrong type or size; `field` (and `index` in a batch) say which. */
  ERR_INVALID: 400,
  /** The body, one message's data or a batch is over its limit (`limit` says which, in bytes or items). */
  ERR_TOO_LARGE: 413,
  /** The hub could not take the request (Redis down): retry; with an `id` a retry is safe. */
  ERR_UNAVAILABLE: 503,
  /** The hub behind this server cannot answer this query. */
  ERR_UNSUPPORTED: 501,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** Extra fields of an error answer: which field or batch item, which limit. */
export interface ApiErrorDetails {
  readonly field?: string;
  readonly index?: number;
  readonly limit?: number;
  readonly [name: string]: unknown;
}

/** An error a handler throws; the API's error handler turns it into the JSON answer. */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly details: ApiErrorDetails;

  constructor(code: ApiErrorCode, message: string, details: ApiErrorDetails = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }

  get status(): (typeof API_ERRORS)[ApiErrorCode] {
    return API_ERRORS[this.code];
  }
}

export function errorResponse(c: Context, error: ApiError, headers: Record<string, string> = {}): Response {
  c.header('cache-control', 'no-store');
  for (const [name, value] of Object.entries(headers)) c.header(name, value);
  return c.json({ error: error.code, message: error.message, ...error.details }, error.status);
}
