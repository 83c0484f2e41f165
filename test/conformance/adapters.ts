/**
 * The adapters the conformance suite runs over. Every rung registers one entry here; the suite itself
 * (./suite.test.ts) is written once and never names a rung.
 */

import { startNodeServer } from '../../server/node.ts';
import type {
  ConnectionHandler,
  ServerTransportLimits,
  Transport,
  TransportConnectOptions,
} from '../../src/transport.ts';
import { createNodeSseTransport } from '../../transports/sse/node.ts';
import { createNodeWebSocketTransport } from '../../transports/websocket/node.ts';

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

export const adapters: ConformanceAdapter[] = [websocketOverNode, sseOverNode];
