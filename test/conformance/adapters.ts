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
  /** Opens a client transport to this server. `url` is filled in by the harness. */
  connect(options?: Partial<TransportConnectOptions>): Transport;
  close(): Promise<void>;
}

export interface ConformanceAdapter {
  readonly name: string;
  /** False where the rung cannot run on this machine; the suite reports it as skipped with `skipReason`. */
  readonly available: boolean;
  readonly skipReason?: string;
  start(options: {
    onConnection: ConnectionHandler;
    limits?: Partial<ServerTransportLimits>;
  }): Promise<ConformanceServer>;
}

const websocketOverNode: ConformanceAdapter = {
  name: 'websocket (node server, ws client)',
  available: true,
  async start({ onConnection, limits }) {
    const server = await startNodeServer({ onConnection, ...(limits ? { limits } : {}) });
    const url = `${server.url.replace(/^http/, 'ws')}/rt/ws`;
    return {
      connect: (options) => createNodeWebSocketTransport({ ...options, url }),
      close: () => server.close(),
    };
  },
};

const sseOverNode: ConformanceAdapter = {
  name: 'sse+post (node server, eventsource client)',
  available: true,
  async start({ onConnection, limits }) {
    const server = await startNodeServer({ onConnection, ...(limits ? { limits } : {}) });
    const url = `${server.url}/rt/sse`;
    return {
      connect: (options) => createNodeSseTransport({ ...options, url }),
      close: () => server.close(),
    };
  },
};

export const adapters: ConformanceAdapter[] = [websocketOverNode, sseOverNode];
