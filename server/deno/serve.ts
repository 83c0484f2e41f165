/**
 * The Deno runtime binding as a library (`switchyard/server/deno`): the same Hono app as on Node (WebSocket
 * through Deno.upgradeWebSocket, SSE), plus native HTTP/3 WebTransport over QUIC, which is why an app serves
 * from Deno at all: it is the runtime here that speaks HTTP/3 to browsers. QUIC listens on UDP, by default
 * on the same port number as HTTP; behind a TCP-only proxy, give it the public port (`webTransport.port`),
 * since `/rt/negotiate` offers WebTransport on the host and port the browser used.
 *
 * Runs under Deno only (`deno run --unstable-net --allow-net --allow-read --allow-env`); typed by
 * `deno check` (see the `typecheck` script). Its public types name no Deno type, so Node tooling can read them.
 */
import type { Context } from 'hono';
import { CloseCode } from '../../src/close-codes.ts';
import type { ConnectionRequest } from '../../src/transport.ts';
import { WEBSOCKET_PROTOCOL } from '../../transports/websocket/client.ts';
import { acceptPlatformWebSocket } from '../../transports/websocket/server-deno.ts';
import { acceptWebTransportSession } from '../../transports/webtransport/server.ts';
import { createSwitchyardApp, PATHS, type SwitchyardApp, type SwitchyardAppOptions } from '../app.ts';
import type { RuntimeBinding } from '../binding.ts';
import { type DevCertificate, generateDevCertificate, renewalDelayMs } from '../certs.ts';

export interface DenoWebTransportOptions {
  /** UDP port for QUIC; default: the HTTP port's number. Behind a TCP-only proxy: the public port. */
  readonly port?: number;
  /** Address QUIC binds; default: `hostname`. */
  readonly hostname?: string;
  /**
   * A real certificate (PEM) for the public host name; default: `tls` if given, else a self-signed
   * development certificate (at most 14 days, its hash published for `serverCertificateHashes`, rotated a
   * day before expiry).
   */
  readonly certificate?: { readonly cert: string; readonly key: string };
  /** Host names and addresses the development certificate covers (default: localhost, loopback, `hostname`). */
  readonly hosts?: readonly string[];
  /** Rotation delay of the development certificate (tests); default: a day before it expires. */
  readonly rotateMs?: number;
}

export interface DenoServerOptions extends Omit<SwitchyardAppOptions, 'binding' | 'extraOffers'> {
  /** TCP port for HTTP, WebSocket and SSE; 0 (default) picks a free one. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly hostname?: string;
  /** Serve https/wss with this certificate and key (PEM). */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** WebTransport over HTTP/3 (default on); `false` serves WebSocket and SSE only. */
  readonly webTransport?: false | DenoWebTransportOptions;
  /** Lets the caller add routes (pages, APIs) before the server starts listening. */
  readonly configure?: (app: SwitchyardApp) => void;
}

export interface RunningDenoServer {
  /** `http(s)://hostname:port` of the TCP listener. */
  readonly url: string;
  readonly port: number;
  /** The UDP port QUIC listens on, or null without WebTransport. */
  readonly webTransportPort: number | null;
  readonly app: SwitchyardApp;
  /** Graceful: every client gets `code` (1001), then both listeners stop. */
  close(code?: number): Promise<void>;
}

function requestedProtocol(c: Context): string | undefined {
  const offered = (c.req.header('sec-websocket-protocol') ?? '').split(',').map((p) => p.trim());
  return offered.includes(WEBSOCKET_PROTOCOL) ? WEBSOCKET_PROTOCOL : undefined;
}

export const denoBinding: RuntimeBinding = {
  runtime: 'deno',
  remoteAddress: (c: Context) =>
    (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr?.hostname ?? 'unknown',
  upgradeWebSocket: (c, limits, accept, request) => {
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw, {
      protocol: requestedProtocol(c),
      idleTimeout: 30,
    });
    acceptPlatformWebSocket(socket, request, limits, accept);
    return response;
  },
};

/** Starts the app under Deno: HTTP on TCP, and (unless disabled) WebTransport on UDP. */
export async function serveDeno(options: DenoServerOptions): Promise<RunningDenoServer> {
  const hostname = options.hostname ?? '127.0.0.1';
  const wt = options.webTransport === false ? undefined : (options.webTransport ?? {});
  const fixedCertificate = wt?.certificate ?? options.tls;
  const certHosts = wt?.hosts ?? [
    'localhost',
    '127.0.0.1',
    '::1',
    hostname,
    ...(wt?.hostname ? [wt.hostname] : []),
  ];
  let certificate: DevCertificate | { cert: string; key: string } | undefined = wt
    ? (fixedCertificate ?? (await generateDevCertificate({ hosts: certHosts })))
    : undefined;
  /** The certificate that will replace the current one; its hash is published ahead of the switch. */
  let nextCertificate: DevCertificate | undefined;
  const hashes = () => {
    if (!certificate || !('hash' in certificate)) return undefined;
    return nextCertificate ? [certificate.hash, nextCertificate.hash] : [certificate.hash];
  };

  // Built before listening (routes are added synchronously); the HTTP handler only runs once it exists.
  let switchyard: SwitchyardApp | undefined;
  const http = Deno.serve(
    {
      port: options.port ?? 0,
      hostname,
      onListen: () => {},
      ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
    },
    (request, info) => switchyard!.app.fetch(request, info),
  );
  const port = http.addr.port;
  switchyard = createSwitchyardApp({
    ...options,
    binding: denoBinding,
    ...(wt
      ? {
          extraOffers: () => {
            const certificateHashes = hashes();
            // A path: published relative to negotiate (same host and port the browser used) or on publicUrl.
            return [
              {
                kind: 'webtransport',
                url: PATHS.webtransport,
                ...(certificateHashes ? { certificateHashes } : {}),
              },
            ];
          },
        }
      : {}),
  });
  options.configure?.(switchyard);
  const app = switchyard;

  let endpoint: Deno.QuicEndpoint | undefined;
  let listener: Deno.QuicListener | undefined;
  const timers: ReturnType<typeof setTimeout>[] = [];
  let closing = false;

  const acceptWebTransport = async (current: Deno.QuicListener): Promise<void> => {
    for (;;) {
      let conn: Deno.QuicConn;
      try {
        conn = await current.accept();
      } catch {
        return;
      }
      void (async () => {
        try {
          const session = await Deno.upgradeWebTransport(conn);
          const url = new URL(session.url);
          const ip = conn.remoteAddr.hostname;
          // Deno exposes the CONNECT's URL but not its headers: the Origin check cannot run here, which is
          // why tokens (bound to the origin that requested them) travel in the URL on this rung.
          const refusal = closing
            ? { closeCode: CloseCode.GoingAway, message: 'server shutting down' }
            : url.pathname.endsWith(PATHS.webtransport)
              ? await app.admission({ request: new Request(url), ip, kind: 'webtransport', phase: 'connect' })
              : { closeCode: CloseCode.PolicyViolation, message: 'unknown WebTransport path' };
          if (refusal) {
            await session.ready.catch(() => {});
            session.close({ closeCode: refusal.closeCode, reason: refusal.message.slice(0, 100) });
            return;
          }
          const request: ConnectionRequest = { url: session.url, origin: null, ip, headers: {} };
          acceptWebTransportSession(session, request, app.limits, 'h3', app.onConnection);
        } catch (error) {
          console.error('webtransport session failed:', (error as Error).message);
        }
      })();
    }
  };

  /**
   * Rotation: browsers take self-signed certificates for at most 14 days, so a long-running server swaps its
   * certificate a day before expiry. The next certificate's hash is published an overlap ahead; the switch
   * re-listens the same QUIC endpoint, and sessions already open keep running (verified: they are not tied
   * to the listener).
   */
  const scheduleRotation = (): void => {
    if (!certificate || !('hash' in certificate)) return;
    const rotateIn = wt?.rotateMs ?? renewalDelayMs(certificate);
    const overlap = Math.min(60 * 60 * 1000, Math.floor(rotateIn / 2));
    timers.push(
      setTimeout(async () => {
        nextCertificate = await generateDevCertificate({ hosts: certHosts });
      }, rotateIn - overlap),
      setTimeout(() => {
        if (!nextCertificate || !endpoint) return scheduleRotation();
        certificate = nextCertificate;
        nextCertificate = undefined;
        // Stop first: a QUIC endpoint has one listener at a time (listening again before stopping loses it).
        listener?.stop();
        listener = endpoint.listen({ cert: certificate.cert, key: certificate.key, alpnProtocols: ['h3'] });
        void acceptWebTransport(listener);
        scheduleRotation();
      }, rotateIn),
    );
  };

  if (wt && certificate) {
    endpoint = new Deno.QuicEndpoint({ hostname: wt.hostname ?? hostname, port: wt.port ?? port });
    listener = endpoint.listen({ cert: certificate.cert, key: certificate.key, alpnProtocols: ['h3'] });
    void acceptWebTransport(listener);
    scheduleRotation();
  }
  const host = hostname.includes(':') ? `[${hostname}]` : hostname;

  return {
    url: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
    port,
    webTransportPort: endpoint ? endpoint.addr.port : null,
    app,
    async close(code = CloseCode.GoingAway) {
      if (closing) return;
      closing = true;
      for (const timer of timers) clearTimeout(timer);
      await app.registry.closeAll(code);
      endpoint?.close();
      await http.shutdown();
    },
  };
}
