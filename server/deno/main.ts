/**
 * Deno runtime binding: the same Hono app as on Node (WebSocket via Deno.upgradeWebSocket, SSE), plus
 * native HTTP/3 WebTransport on the same port number over QUIC, which browsers reach with the published
 * certificate hash. Started by ./launch.ts (Node) or directly:
 *   deno run --unstable-net --allow-net --allow-read --allow-env server/deno/main.ts
 * Prints one JSON line when ready: { "url", "port", "rungs" }.
 */
import type { Context } from 'hono';
import { CloseCode } from '../../src/close-codes.ts';
import type { ConnectionHandler, ConnectionRequest } from '../../src/transport.ts';
import { WEBSOCKET_PROTOCOL } from '../../transports/websocket/client.ts';
import { acceptPlatformWebSocket } from '../../transports/websocket/server-deno.ts';
import { acceptWebTransportSession } from '../../transports/webtransport/server.ts';
import { createSwitchyardApp } from '../app.ts';
import { connectionRequest, type RuntimeBinding } from '../binding.ts';
import { type DevCertificate, generateDevCertificate, renewalDelayMs } from '../certs.ts';
import { createDemo } from '../demo/app.ts';
import { createSecurity } from '../security/index.ts';

export const WEBTRANSPORT_PATH = '/rt/wt';

const port = Number(Deno.env.get('PORT') ?? 8080);
const hostname = Deno.env.get('HOST') ?? '127.0.0.1';
const heartbeatMs = Number(Deno.env.get('HEARTBEAT_MS') ?? 15_000);
const bundlePath = Deno.env.get('DEMO_BUNDLE');
/** `demo` (default): the demo app. `echo`: a transport-level echo server for the rung checks in test/. */
const appName = Deno.env.get('SWITCHYARD_APP') ?? 'demo';

const binding: RuntimeBinding = {
  runtime: 'deno',
  remoteAddress: (c: Context) =>
    (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr?.hostname ?? 'unknown',
  upgradeWebSocket: (c, limits, accept) => {
    // Read the request first: on upgrade Deno hands the request over to the socket.
    const request = connectionRequest(c, binding);
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw, {
      protocol: requestedProtocol(c),
      idleTimeout: 30,
    });
    acceptPlatformWebSocket(socket, request, limits, accept);
    return response;
  },
};

function requestedProtocol(c: Context): string | undefined {
  const offered = (c.req.header('sec-websocket-protocol') ?? '').split(',').map((p) => p.trim());
  return offered.includes(WEBSOCKET_PROTOCOL) ? WEBSOCKET_PROTOCOL : undefined;
}

/** Echoes every message on its channel and with its reliability; `close:<code>:<reason>` on `ctl` closes. */
const echoApp: ConnectionHandler = (connection) => {
  connection.on('message', (m) => {
    if (m.channel === 'ctl' && typeof m.data === 'string' && m.data.startsWith('close:')) {
      const [, code, reason] = m.data.split(':');
      connection.close(Number(code), reason ?? '');
      return;
    }
    connection.send(m.data, { channel: m.channel, reliable: !m.unreliable }).catch(() => {});
  });
};

const certHosts = ['localhost', '127.0.0.1', '::1', hostname];
let certificate = await generateDevCertificate({ hosts: certHosts });
/** The certificate that will replace the current one; its hash is published ahead of the switch. */
let nextCertificate: DevCertificate | undefined;
// Same policy as the Node demo: same-origin only, tokens on every connection (the `echo` test app goes without).
const security = appName === 'echo' ? undefined : createSecurity({ requireTokens: true });
const demo = createDemo({
  ...(security ? { authenticate: security.authenticateHello } : {}),
  bundle: bundlePath ? await Deno.readTextFile(bundlePath) : '',
  heartbeatMs,
});

const http = Deno.serve({ port, hostname, onListen: () => {} }, (request, info) =>
  switchyard.app.fetch(request, info),
);
const boundPort = http.addr.port;

const switchyard = createSwitchyardApp({
  binding,
  heartbeatMs,
  ...(security ? { security } : {}),
  onConnection: appName === 'echo' ? echoApp : demo.protocol.onConnection,
  extraOffers: (request) => {
    const requested = new URL(request.url);
    const host = requested.hostname;
    // QUIC listens on the same port number as HTTP: follow the port the client reached us on (a relay or a
    // proxy that forwards both TCP and UDP keeps working; one that forwards TCP only makes this rung fail).
    const port = requested.port || boundPort;
    return [
      {
        kind: 'webtransport',
        url: `https://${host.includes(':') ? `[${host}]` : host}:${port}${WEBTRANSPORT_PATH}`,
        // Both hashes during the overlap, so a client that read this just before the switch still connects after it.
        certificateHashes: nextCertificate ? [certificate.hash, nextCertificate.hash] : [certificate.hash],
      },
    ];
  },
});
demo.configure(switchyard);

// WebTransport: QUIC on the same port number (UDP), HTTP/3 with the WebTransport extension.
const endpoint = new Deno.QuicEndpoint({ hostname, port: boundPort });
let listener = endpoint.listen({ cert: certificate.cert, key: certificate.key, alpnProtocols: ['h3'] });

/**
 * Rotation: browsers take self-signed certificates for at most 14 days, so a long-running server swaps its
 * certificate a day before expiry (CERT_ROTATE_MS overrides, for tests). The next certificate's hash is
 * published an overlap ahead; the switch re-listens the same QUIC endpoint, and sessions already open keep
 * running (verified: they are not tied to the listener).
 */
function scheduleRotation(): void {
  const rotateIn = Number(Deno.env.get('CERT_ROTATE_MS') ?? renewalDelayMs(certificate));
  const overlap = Math.min(60 * 60 * 1000, Math.floor(rotateIn / 2));
  setTimeout(async () => {
    nextCertificate = await generateDevCertificate({ hosts: certHosts });
  }, rotateIn - overlap);
  setTimeout(() => {
    if (!nextCertificate) return scheduleRotation();
    certificate = nextCertificate;
    nextCertificate = undefined;
    // Stop first: a QUIC endpoint has one listener at a time (listening again before stopping loses the new one).
    listener.stop();
    listener = endpoint.listen({ cert: certificate.cert, key: certificate.key, alpnProtocols: ['h3'] });
    void acceptWebTransport(listener);
    scheduleRotation();
  }, rotateIn);
}

async function acceptWebTransport(listener: Deno.QuicListener): Promise<void> {
  for (;;) {
    let conn: Deno.QuicConn;
    try {
      conn = await listener.accept();
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
        const refusal =
          url.pathname === WEBTRANSPORT_PATH
            ? await switchyard.admission({
                request: new Request(url),
                ip,
                kind: 'webtransport',
                phase: 'connect',
              })
            : { closeCode: CloseCode.PolicyViolation, message: 'unknown WebTransport path' };
        if (refusal) {
          await session.ready.catch(() => {});
          session.close({ closeCode: refusal.closeCode, reason: refusal.message.slice(0, 100) });
          return;
        }
        const request: ConnectionRequest = { url: session.url, origin: null, ip, headers: {} };
        acceptWebTransportSession(session, request, switchyard.limits, 'h3', switchyard.onConnection);
      } catch (error) {
        console.error('webtransport session failed:', (error as Error).message);
      }
    })();
  }
}
void acceptWebTransport(listener);
scheduleRotation();

console.log(
  JSON.stringify({
    url: `http://${hostname}:${boundPort}`,
    port: boundPort,
    runtime: 'deno',
    rungs: ['webtransport', 'websocket', 'sse'],
  }),
);

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await switchyard.registry.closeAll();
  endpoint.close();
  await http.shutdown();
  await demo.stop();
  Deno.exit(0);
}
Deno.addSignalListener('SIGINT', shutdown);
Deno.addSignalListener('SIGTERM', shutdown);
