/**
 * The tiny contract a runtime (Node, Deno) implements so that one Hono app serves every rung on it.
 * Only bindings know their runtime; the app, the hub and security code never import one.
 */
import type { Context } from 'hono';
import type { ConnectionRequest, ServerConnection, ServerTransportLimits } from '../src/transport.ts';

export interface RuntimeBinding {
  readonly runtime: 'node' | 'deno';
  /**
   * Turns the request into a WebSocket and calls `accept` once it is open. Returns the upgrade response.
   * `request` is what the connection carries (built by the app, with the proxy-aware client address).
   */
  upgradeWebSocket(
    c: Context,
    limits: ServerTransportLimits,
    accept: (connection: ServerConnection) => void,
    request: ConnectionRequest,
  ): Response | Promise<Response>;
  /** Remote address of the request, as the runtime sees it. */
  remoteAddress(c: Context): string;
}

/** Builds the transport-independent request description every ServerConnection carries. */
export function connectionRequest(c: Context, binding: RuntimeBinding): ConnectionRequest {
  const entries: string[] = [];
  let shareable = true;
  c.req.raw.headers.forEach((value, key) => {
    if (key === HANDSHAKE_NONCE) return;
    if (PRIVATE_HEADERS.has(key)) shareable = false;
    entries.push(key, value);
  });
  const origin = c.req.header('origin');
  const url = intern(c.req.url);
  const ip = intern(binding.remoteAddress(c));
  if (!shareable || entries.length > MAX_SHARED_HEADERS * 2) {
    return { url, origin: origin === undefined ? null : intern(origin), ip, headers: record(entries) };
  }
  const headers = shared(entries.join('\n'), entries);
  const key = `${url}\n${ip}\n${origin ?? ''}`;
  const known = requests.get(key);
  if (known !== undefined && known.headers === headers) return known;
  const request = Object.freeze({ url, origin: origin === undefined ? null : intern(origin), ip, headers });
  if (requests.size >= MAX_SHARED) requests.clear();
  requests.set(key, request);
  return request;
}

// A request's strings live as long as its connection, and most are the same for every connection (the URL, Host,
// Origin, User-Agent, the handshake's fixed values, a proxy's address): each would be a copy per connection,
// ~200 bytes of an idle WebSocket's heap. So one copy of each is shared, from a bounded table (emptied when
// full: values unique to each request only cost the sharing of those made before it). Whole header records and
// request descriptions are shared the same way when they are equal (frozen: they are read-only by type already),
// which is the common case once the WebSocket handshake's nonce is left out: a record with six headers is an
// object, its overflow property array and the nonce's string, ~150 bytes per idle connection, and the request
// another 56. Records with credentials (cookies, authorization) are never kept in a table.

const interned = new Map<string, string>();
const MAX_INTERNED = 512;
const MAX_INTERNED_LENGTH = 256;
/**
 * Credentials: their values are never interned (a user's secret must not outlive its connection in a table, and
 * each is unique anyway), and a record holding one is the connection's own, never kept in a shared table.
 */
const PRIVATE_HEADERS = new Set(['cookie', 'authorization', 'proxy-authorization']);
/**
 * `Sec-WebSocket-Key`: a nonce that only the handshake uses (the server answers it with `Sec-WebSocket-Accept`);
 * it means nothing once the connection is open, and would make every record unique. Admission still sees it on
 * the app's `Request`.
 */
const HANDSHAKE_NONCE = 'sec-websocket-key';
const MAX_SHARED = 256;
/** Requests with more headers than this (long cookie-less browser requests) are not worth a table key. */
const MAX_SHARED_HEADERS = 32;
const records = new Map<string, Readonly<Record<string, string>>>();
const requests = new Map<string, ConnectionRequest>();

function intern(value: string): string {
  if (value.length > MAX_INTERNED_LENGTH) return value;
  const known = interned.get(value);
  if (known !== undefined) return known;
  if (interned.size >= MAX_INTERNED) interned.clear();
  interned.set(value, value);
  return value;
}

/** `entries`: name, value, name, value... */
function record(entries: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i < entries.length; i += 2) {
    const key = entries[i] as string;
    const value = entries[i + 1] as string;
    headers[key] = PRIVATE_HEADERS.has(key) ? value : intern(value);
  }
  return headers;
}

function shared(key: string, entries: readonly string[]): Readonly<Record<string, string>> {
  const known = records.get(key);
  if (known !== undefined) return known;
  const headers = Object.freeze(record(entries));
  if (records.size >= MAX_SHARED) records.clear();
  records.set(key, headers);
  return headers;
}
