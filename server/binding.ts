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
  const headers: Record<string, string> = {};
  c.req.raw.headers.forEach((value, key) => {
    headers[key] = UNIQUE_HEADERS.has(key) ? value : intern(value);
  });
  const origin = c.req.header('origin');
  return {
    url: intern(c.req.url),
    origin: origin === undefined ? null : intern(origin),
    ip: intern(binding.remoteAddress(c)),
    headers,
  };
}

// A request's strings live as long as its connection, and most are the same for every connection (the URL, Host,
// Origin, User-Agent, the handshake's fixed values, a proxy's address): each would be a copy per connection,
// ~200 bytes of an idle WebSocket's heap. So one copy of each is shared, from a bounded table (emptied when
// full: values unique to each request only cost the sharing of those made before it).

const interned = new Map<string, string>();
const MAX_INTERNED = 512;
const MAX_INTERNED_LENGTH = 256;
/** Unique per request by design: not worth a table entry. */
const UNIQUE_HEADERS = new Set(['sec-websocket-key', 'cookie', 'authorization']);

function intern(value: string): string {
  if (value.length > MAX_INTERNED_LENGTH) return value;
  const known = interned.get(value);
  if (known !== undefined) return known;
  if (interned.size >= MAX_INTERNED) interned.clear();
  interned.set(value, value);
  return value;
}
