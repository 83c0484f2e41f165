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
    headers[key] = value;
  });
  return { url: c.req.url, origin: c.req.header('origin') ?? null, ip: binding.remoteAddress(c), headers };
}
