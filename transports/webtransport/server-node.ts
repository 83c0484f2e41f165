/**
 * Node binding of the WebTransport rung: @fails-components/webtransport. Its HTTP/3 transport needs the
 * native quiche addon (an optionalDependency that cannot install on these machines), so this serves
 * WebTransport over HTTP/2: streams and capsule datagrams on one TLS connection, which Node clients (and
 * the polyfill) speak. Browsers get HTTP/3 from the Deno binding instead (server/deno/main.ts).
 */
import { Http2Server } from '@fails-components/webtransport';
import type { Admission } from '../../src/admission.ts';
import { CloseCode } from '../../src/close-codes.ts';
import type { CertificateHash } from '../../src/negotiate.ts';
import type { ConnectionHandler, ConnectionRequest, ServerTransportLimits } from '../../src/transport.ts';
import type { WebTransportSessionLike } from './connection.ts';
import { acceptWebTransportSession } from './server.ts';

export interface NodeWebTransportOptions {
  readonly cert: string;
  readonly key: string;
  readonly hash?: CertificateHash;
  readonly limits: ServerTransportLimits;
  readonly onConnection: ConnectionHandler;
  readonly admission?: Admission;
  readonly port?: number;
  readonly host?: string;
  readonly path?: string;
}

export interface NodeWebTransportServer {
  readonly port: number;
  readonly url: string;
  readonly certificateHashes: CertificateHash[];
  close(): Promise<void>;
}

type SessionWithHeader = WebTransportSessionLike & { header?: Record<string, string> };

export async function startNodeWebTransportServer(
  options: NodeWebTransportOptions,
): Promise<NodeWebTransportServer> {
  const host = options.host ?? '127.0.0.1';
  const path = options.path ?? '/rt/wt';
  const server = new Http2Server({
    port: options.port ?? 0,
    host,
    secret: crypto.getRandomValues(new Uint8Array(16)).join(''),
    cert: options.cert,
    privKey: options.key,
  });
  server.startServer();
  await server.ready;
  const port = (server.address() as { port: number }).port;
  const url = `https://${host}:${port}${path}`;
  const sessions = new Set<SessionWithHeader>();
  void (async () => {
    const reader = (server.sessionStream(path) as ReadableStream<SessionWithHeader>).getReader();
    for (;;) {
      const { done, value: session } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done || !session) return;
      sessions.add(session);
      session.closed.finally(() => sessions.delete(session)).catch(() => {});
      const headers = session.header ?? {};
      const origin = headers.origin ?? null;
      const request: ConnectionRequest = { url, origin, ip: 'unknown', headers };
      const refusal = await options.admission?.({
        request: new Request(url, { headers: origin ? { origin } : {} }),
        ip: request.ip,
        kind: 'webtransport',
        phase: 'connect',
      });
      if (refusal) {
        await session.ready.catch(() => {});
        session.close({ closeCode: refusal.closeCode, reason: refusal.message.slice(0, 100) });
        continue;
      }
      acceptWebTransportSession(session, request, options.limits, 'h2', options.onConnection);
    }
  })();
  return {
    port,
    url,
    certificateHashes: options.hash ? [options.hash] : [],
    async close() {
      for (const session of sessions)
        session.close({ closeCode: CloseCode.GoingAway, reason: 'server shutting down' });
      server.stopServer();
      await server.closed;
    },
  };
}
