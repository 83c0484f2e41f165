/**
 * The adapters the conformance suite runs over. Every rung registers one entry here; the suite itself
 * (./suite.test.ts) is written once and never names a rung.
 */

import { generateDevCertificate } from '../../server/certs.ts';
import { startNodeServer } from '../../server/node.ts';
import {
  type ConnectionHandler,
  DEFAULT_LIMITS,
  type ServerTransportLimits,
  type Transport,
  type TransportConnectOptions,
} from '../../src/transport.ts';
import { createNodeSseTransport } from '../../transports/sse/node.ts';
import { createNodeWebSocketTransport } from '../../transports/websocket/node.ts';
import { createNodeWebTransportTransport } from '../../transports/webtransport/node.ts';
import { startNodeWebTransportServer } from '../../transports/webtransport/server-node.ts';

export interface ConformanceServer {
  /** TCP port the server listens on (the suite may put a relay in front of it). */
  readonly port: number;
  /** Opens a client transport to this server, or to `viaPort` on 127.0.0.1 (a relay) when given. */
  connect(options?: Partial<TransportConnectOptions>, viaPort?: number): Transport;
  close(): Promise<void>;
}

export interface ConformanceAdapter {
  readonly name: string;
  /** False where the rung cannot run on this machine; the suite reports it as skipped with `skipReason`. */
  readonly available: boolean;
  readonly skipReason?: string;
  /** False where the rung does not run over one TCP connection the suite can relay (backpressure tests skip, visibly). */
  readonly relayable: boolean;
  /**
   * Tests this adapter is known to fail, by test key, with the reason: the suite shows them as skipped with
   * that reason in the test name, so a limitation is visible in every run instead of silently passing.
   */
  readonly knownFailures?: Readonly<Record<string, string>>;
  start(options: {
    onConnection: ConnectionHandler;
    limits?: Partial<ServerTransportLimits>;
  }): Promise<ConformanceServer>;
}

const websocketOverNode: ConformanceAdapter = {
  name: 'websocket (node server, ws client)',
  available: true,
  relayable: true,
  async start({ onConnection, limits }) {
    const server = await startNodeServer({ onConnection, ...(limits ? { limits } : {}) });
    return {
      port: server.port,
      connect: (options, viaPort) =>
        createNodeWebSocketTransport({ ...options, url: `ws://127.0.0.1:${viaPort ?? server.port}/rt/ws` }),
      close: () => server.close(),
    };
  },
};

const sseOverNode: ConformanceAdapter = {
  name: 'sse+post (node server, eventsource client)',
  available: true,
  relayable: true,
  async start({ onConnection, limits }) {
    const server = await startNodeServer({ onConnection, ...(limits ? { limits } : {}) });
    return {
      port: server.port,
      connect: (options, viaPort) =>
        createNodeSseTransport({ ...options, url: `http://127.0.0.1:${viaPort ?? server.port}/rt/sse` }),
      close: () => server.close(),
    };
  },
};

const certificate = generateDevCertificate();
const H2_STALL =
  '@fails-components WebTransport over HTTP/2 stalls a stream after ~2,000 small messages or one 64 KiB message (flow control in the polyfill); the HTTP/3 rung passes these under Deno (test/webtransport-deno.test.ts)';

/** WebTransport over HTTP/2 (the Node stack here; HTTP/3 runs under Deno: test/webtransport-deno.test.ts). */
const webtransportOverNodeHttp2: ConformanceAdapter = {
  name: 'webtransport over http/2 (node server, @fails-components client)',
  available: true,
  relayable: true,
  knownFailures: {
    order: H2_STALL,
    limit: H2_STALL,
    bypass: H2_STALL,
    shutdown: H2_STALL,
    'backpressure-down': H2_STALL,
    'backpressure-up': H2_STALL,
    'large-utf8-text': H2_STALL,
    'kept-bytes': H2_STALL,
  },
  async start({ onConnection, limits }) {
    const cert = await certificate;
    const server = await startNodeWebTransportServer({
      cert: cert.cert,
      key: cert.key,
      hash: cert.hash,
      limits: { ...DEFAULT_LIMITS, ...limits },
      onConnection,
    });
    return {
      port: server.port,
      connect: (options, viaPort) =>
        createNodeWebTransportTransport({
          ...options,
          url: `https://127.0.0.1:${viaPort ?? server.port}/rt/wt`,
          certificateHashes: server.certificateHashes,
        }),
      close: () => server.close(),
    };
  },
};

export const adapters: ConformanceAdapter[] = [websocketOverNode, sseOverNode, webtransportOverNodeHttp2];
