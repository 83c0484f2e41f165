/**
 * The client keeps under the message rate the server announces: a client that comes back with hundreds of
 * unacknowledged publishes and many subscriptions re-sends them paced, instead of being closed with
 * RateLimited (4029) on every reconnect. Over WebSocket and SSE, with the real security layer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryHub } from '../../server/hub/memory.ts';
import { type RunningServer, startNodeServer } from '../../server/node.ts';
import { createProtocol, type Protocol } from '../../server/protocol/index.ts';
import { createSecurity } from '../../server/security/index.ts';
import { type Client, createClient } from '../../src/client/index.ts';
import type { TransportKind } from '../../src/transport.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { until } from './harness.ts';

let server: RunningServer | undefined;
let protocol: Protocol | undefined;
let client: Client | undefined;
afterEach(async () => {
  client?.dispose();
  await server?.close();
  protocol?.close();
});

for (const kind of ['websocket', 'sse'] as TransportKind[]) {
  describe(`rate-limited server, ${kind}`, () => {
    it('a burst far over the limit is paced, never closed with 4029', async () => {
      const security = createSecurity({ connections: { messagesPerSecond: 400, messageBurst: 100 } });
      protocol = createProtocol({ hub: new MemoryHub(), authenticate: security.authenticateHello });
      server = await startNodeServer({ onConnection: protocol.onConnection, security });
      const negotiated = await (await fetch(`${server.url}/rt/negotiate`)).json();
      expect(negotiated.rate).toEqual({ messagesPerSecond: 400, burst: 100 });
      client = createClient({
        url: server.url,
        transports: nodeTransports,
        order: [kind],
        autoConnect: false,
        rememberRung: false,
        climb: false,
      });
      const closes: number[] = [];
      client.on('state', (s) => {
        if (s === 'reconnecting') closes.push(client?.closeInfo?.code ?? 0);
      });
      const seen: number[] = [];
      client.on('message', (m) => {
        if (m.reliable) seen.push(m.seq);
      });
      for (let i = 0; i < 30; i++) client.subscribe(`t${i}`);
      const sub = client.subscribe('all');
      // Queued while offline: all of it goes out at once on connect.
      const acks = Array.from({ length: 400 }, (_, n) => client?.publish('all', { n }));
      await client.connect();
      await Promise.all(acks);
      await until(() => seen.length >= 400 || sub.lastSeq === 400, 'every message back');
      expect(closes).toEqual([]);
      expect(client.state).toBe('connected');
    });
  });
}
