/**
 * Shared setup for the client tests: a real server (startNodeServer on port 0) running the real protocol
 * handler over an in-memory hub, plus counters of what the server-side app saw.
 */

import { MemoryHub, type MemoryHubOptions } from '../../server/hub/memory.ts';
import { type NodeServerOptions, type RunningServer, startNodeServer } from '../../server/node.ts';
import { createProtocol, type Protocol, type ProtocolOptions } from '../../server/protocol/index.ts';
import type { AttemptEvent, Client, RungFactory } from '../../src/client/index.ts';
import { createNodeWebSocketTransport } from '../../transports/websocket/node.ts';

export interface TestServer {
  readonly server: RunningServer;
  readonly protocol: Protocol;
  readonly hub: MemoryHub;
  readonly url: string;
  /** Every (topic, data) the server-side app received, in order (dedup happens before this). */
  readonly received: { id: string; topic: string | undefined; data: unknown }[];
  close(): Promise<void>;
}

export async function startTestServer(
  options: {
    heartbeatMs?: number;
    hub?: MemoryHubOptions;
    protocol?: Partial<ProtocolOptions>;
    server?: Partial<NodeServerOptions>;
  } = {},
): Promise<TestServer> {
  const hub = new MemoryHub(options.hub);
  const received: TestServer['received'] = [];
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const protocol = createProtocol({
    hub,
    heartbeatMs,
    onPublish: async (event) => {
      if (!event.reliable) {
        await hub.publishVolatile(event.topic, event.data);
        return;
      }
      received.push({ id: event.id, topic: event.topic, data: event.data });
      if (event.topic !== undefined) await hub.publish(event.topic, event.data);
    },
    ...options.protocol,
  });
  const server = await startNodeServer({
    onConnection: protocol.onConnection,
    heartbeatMs,
    ...options.server,
  });
  return {
    server,
    protocol,
    hub,
    url: server.url,
    received,
    async close() {
      await server.close();
      protocol.close();
      await hub.close();
    },
  };
}

/** Resolves when `predicate` holds, checking on every event loop turn (bounded by the test timeout). */
export async function until(predicate: () => boolean, what = 'condition'): Promise<void> {
  const started = Date.now();
  while (!predicate()) {
    if (Date.now() - started > 15_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * A rung that speaks WebSocket to `wsUrl()` whatever the offer says: a stand-in for another rung (the client
 * cannot tell: all it sees is `open` + hello/welcome + ping/pong), pointed at a relay or a server of the test's.
 */
export function standIn(wsUrl: () => string): RungFactory {
  return ({ offer: _offer, token: _token, ...options }) =>
    createNodeWebSocketTransport({ ...options, url: wsUrl() });
}

/** Every attempt `c` reports, from now on. */
export function attemptsOf(c: Client): AttemptEvent[] {
  const list: AttemptEvent[] = [];
  c.on('attempt', (a) => list.push(a));
  return list;
}
