/**
 * Three node processes on one Redis behind nginx (round robin per request, no affinity). Clients on both rungs
 * (WebSocket, SSE + POST) connect through the balancer, one more directly to a node; every client publishes to
 * one topic while all of them follow it. Each must see one and the same ordered stream: sequence 1..N, every
 * publish exactly once, each client's own publishes in the order it made them. SSE POSTs that nginx sent to a
 * node other than the one holding the event stream are forwarded through Redis (counted). A second test pins
 * it down without the balancer: the event stream on node A, every POST sent to node B.
 */
import { describe, expect, it } from 'vitest';
import { type Client, createClient } from '../../src/client/index.ts';
import type { RungFactories } from '../../src/client/rungs.ts';
import type { TransportKind } from '../../src/transport.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { createNodeSseTransport } from '../../transports/sse/node.ts';
import { until } from '../client/harness.ts';
import { type Cluster, startCluster } from './support/cluster.ts';
import { startNginxBalancer } from './support/nginx-lb.ts';
import { scaleTestHooks } from './support/redis.ts';

const defer = scaleTestHooks();

interface Observer {
  readonly name: string;
  readonly client: Client<{ from: string; n: number }>;
  readonly got: { seq: number; from: string; n: number }[];
}

function observe(
  name: string,
  url: string,
  rung: TransportKind,
  transports: RungFactories = nodeTransports,
): Observer {
  const client = createClient<{ from: string; n: number }>({
    url,
    transports,
    order: [rung],
    rememberRung: false,
    backoff: { baseMs: 100, maxMs: 400 },
  });
  defer(() => client.dispose());
  const got: Observer['got'] = [];
  client.on('message', (m) => got.push({ seq: m.seq ?? -1, from: m.data.from, n: m.data.n }));
  client.subscribe('room', { since: 0 });
  return { name, client, got };
}

const PER_CLIENT = 40;

describe('three nodes behind nginx, no affinity', () => {
  it('clients on different nodes and rungs see one ordered stream', { timeout: 60_000 }, async () => {
    const cluster = await startCluster(3);
    defer(() => cluster.close());
    const balancer = await startNginxBalancer(cluster.nodes.map((n) => n.port));
    defer(() => balancer.close());
    const observers = [
      observe('ws-1', balancer.url, 'websocket'),
      observe('ws-2', balancer.url, 'websocket'),
      observe('sse-1', balancer.url, 'sse'),
      observe('sse-2', balancer.url, 'sse'),
      observe('ws-direct', cluster.nodes[2]!.url, 'websocket'),
    ];
    await Promise.all(observers.map((o) => o.client.connect()));
    // Publish from every client at once, without waiting for acks between messages.
    await Promise.all(
      observers.flatMap((o) =>
        Array.from({ length: PER_CLIENT }, (_, n) => o.client.publish('room', { from: o.name, n })),
      ),
    );
    const total = PER_CLIENT * observers.length;
    for (const o of observers) await until(() => o.got.length >= total, `${o.name} got everything`);

    const reference = observers[0]!.got;
    expect(reference.map((m) => m.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    for (const o of observers) {
      expect(o.got, `${o.name} sees the same stream`).toEqual(reference);
      // Each publisher's messages appear once each, in the order it published them.
      const own = reference.filter((m) => m.from === o.name).map((m) => m.n);
      expect(own).toEqual(Array.from({ length: PER_CLIENT }, (_, n) => n));
    }
    const stats = await Promise.all(cluster.nodes.map((n) => cluster.stats(n)));
    const holding = stats.filter((s) => s.active > 0).length;
    const forwarded = stats.reduce((sum, s) => sum + s.forwarding.forwarded, 0);
    console.log(
      `[cluster] ${total} messages, connections per node ${stats.map((s) => s.active).join('/')}, SSE POSTs forwarded between nodes: ${forwarded}`,
    );
    expect(holding).toBeGreaterThanOrEqual(2);
    expect(forwarded).toBeGreaterThan(0);
  });

  it('an SSE stream on node A with every POST sent to node B: applied in order, acked', {
    timeout: 30_000,
  }, async () => {
    const cluster = await startCluster(2);
    defer(() => cluster.close());
    const [a, b] = cluster.nodes as [Cluster['nodes'][0], Cluster['nodes'][0]];
    // The client talks to A; its upstream fetches are rewritten to B, like a balancer that never sends them to A.
    const toB: RungFactories = {
      sse: ({ offer: _offer, token: _token, ...options }) =>
        createNodeSseTransport({
          ...options,
          fetch: (input, init) => fetch(String(input).replace(`:${a.port}/`, `:${b.port}/`), init),
        }),
    };
    const writer = observe('writer', a.url, 'sse', toB);
    const reader = observe('reader', b.url, 'websocket');
    await Promise.all([writer.client.connect(), reader.client.connect()]);
    for (let n = 0; n < 100; n++) void writer.client.publish('room', { from: 'writer', n });
    await until(() => reader.got.length >= 100, 'reader got all');
    expect(reader.got.map((m) => m.n)).toEqual(Array.from({ length: 100 }, (_, n) => n));
    const [statsA, statsB] = await Promise.all([cluster.stats(a), cluster.stats(b)]);
    expect(statsB.forwarding.forwarded).toBeGreaterThan(0);
    expect(statsA.forwarding.served).toBe(statsB.forwarding.forwarded);
    expect(statsA.applied).toBe(100);
  });
});
