/**
 * How the client opens a rung: a factory per transport kind, injected by the app (transports/index.browser.ts
 * or transports/index.node.ts), because src/ must not import transports/. A factory gets the server's offer
 * for that rung (URLs, certificate hashes) plus the generic connect options.
 */
import type { OfferedTransport } from '../negotiate.ts';
import type { Transport, TransportConnectOptions, TransportKind } from '../transport.ts';

export interface RungConnectOptions extends TransportConnectOptions {
  /** What `/rt/negotiate` said about this rung. */
  readonly offer: OfferedTransport;
  /** For rungs whose browser API cannot carry it in the first message (URL parameter); the hello carries it too. */
  readonly token?: string;
}

/**
 * Returns the rung's transport, or a promise of it for a rung whose code is loaded on first use (a dynamic
 * import: `browserTransports` does that for WebTransport and SSE). The handshake budget covers the load; a
 * promise that rejects fails the attempt like a rung that cannot open, and the client tries the next one.
 */
export type RungFactory = (options: RungConnectOptions) => Transport | Promise<Transport>;

export type RungFactories = Partial<Readonly<Record<TransportKind, RungFactory>>>;

/**
 * For rungs whose browser API cannot send headers or a first message before the handshake (EventSource,
 * WebTransport), the token travels as the `token` query parameter; servers redact it from logs.
 */
export function withTokenParam(url: string, token: string | undefined): string {
  if (!token) return url;
  const u = new URL(url);
  u.searchParams.set('token', token);
  return u.href;
}
