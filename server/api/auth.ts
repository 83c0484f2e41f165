/**
 * The server API's gate: `Authorization: Bearer <key>` against the configured key(s). Keys are compared as
 * SHA-256 digests with a loop that never stops early, so neither the time taken nor the key's length tells a
 * caller how close a guess was. Several keys may be valid at once, for rotation without downtime.
 */
import type { MiddlewareHandler } from 'hono';
import { ApiError, errorResponse } from './errors.ts';

/** Shorter keys are refused at start: the API can publish to every topic. */
export const MIN_KEY_LENGTH = 16;

const encoder = new TextEncoder();

async function digest(value: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(value)));
}

/** Both are 32-byte digests: every byte is compared, whatever differs first. */
function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) difference |= (a[i] as number) ^ (b[i] ?? 0);
  return difference === 0;
}

/** Checks the keys once, at start: an empty or short key is a configuration error, not an open API. */
export function normalizeKeys(key: string | readonly string[]): readonly string[] {
  const keys = typeof key === 'string' ? [key] : [...key];
  if (keys.length === 0) throw new Error('server API: no API key given');
  for (const k of keys) {
    if (k.length < MIN_KEY_LENGTH) {
      throw new Error(`server API: an API key must be at least ${MIN_KEY_LENGTH} characters`);
    }
  }
  return keys;
}

/** Whether `header` (an Authorization header value) carries one of the keys. */
export type KeyCheck = (header: string | undefined) => Promise<boolean>;

/** The key in `Bearer <key>`, or with `basic` the password of `Basic base64(user:key)` (a browser's prompt). */
function presentedKey(header: string | undefined, basic: boolean): string | null {
  if (header === undefined) return null;
  const bearer = /^Bearer +(\S+) *$/i.exec(header);
  if (bearer) return bearer[1] as string;
  const encoded = basic ? /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header) : null;
  if (!encoded) return null;
  try {
    const decoded = new TextDecoder().decode(
      Uint8Array.from(atob(encoded[1] as string), (c) => c.charCodeAt(0)),
    );
    const colon = decoded.indexOf(':');
    return colon < 0 ? null : decoded.slice(colon + 1);
  } catch {
    return null;
  }
}

export function createKeyCheck(key: string | readonly string[], options: { basic?: boolean } = {}): KeyCheck {
  const digests = Promise.all(normalizeKeys(key).map(digest));
  const basic = options.basic ?? false;
  return async (header) => {
    const presented = presentedKey(header, basic);
    // A missing header costs the same digest and comparisons as a wrong key.
    const actual = await digest(presented ?? '');
    let ok = false;
    for (const expected of await digests) ok = sameDigest(actual, expected) || ok;
    return ok && presented !== null;
  };
}

/** Middleware: 401 `ERR_UNAUTHORIZED` (with `WWW-Authenticate`) unless the request carries a valid key. */
export function requireKey(check: KeyCheck, challenge = 'Bearer realm="switchyard"'): MiddlewareHandler {
  return async (c, next) => {
    if (await check(c.req.header('authorization'))) return next();
    return errorResponse(
      c,
      new ApiError('ERR_UNAUTHORIZED', 'missing or wrong API key: send Authorization: Bearer <key>'),
      { 'www-authenticate': challenge },
    );
  };
}
