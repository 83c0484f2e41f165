/**
 * The metrics against a real server and a real client: what `/rt/metrics` says after a client fell back from
 * one rung to another, exchanged messages, was refused, was rate limited and closed. Each count is checked
 * against what the test did, so a hook that stops counting fails here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { mountServerApi } from '../../server/api/index.ts';
import { MemoryHub } from '../../server/hub/memory.ts';
import { createMetrics, type Metrics } from '../../server/metrics/index.ts';
import { type RunningServer, startNodeServer } from '../../server/node.ts';
import { createProtocol, type Protocol } from '../../server/protocol/index.ts';
import { createSecurity } from '../../server/security/index.ts';
import { createClient } from '../../src/client/index.ts';
import { CloseCode } from '../../src/close-codes.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { createNodeWebSocketTransport } from '../../transports/websocket/node.ts';
import { until } from '../client/harness.ts';
import { API_KEY, api } from './support.ts';

let server: RunningServer;
let protocol: Protocol;
let metrics: Metrics;
const hub = new MemoryHub();

beforeAll(async () => {
  metrics = createMetrics({ process: false });
  metrics.instrumentHub(hub);
  protocol = createProtocol({ hub, onHello: metrics.onHello });
  metrics.watchProtocol(protocol);
  server = await startNodeServer({
    onConnection: protocol.onConnection,
    security: createSecurity({ connections: { messagesPerSecond: 20, messageBurst: 20 } }),
    configure: (app) => {
      metrics.attach(app);
      mountServerApi(app.app, { key: API_KEY, hub, routes: [metrics.routes] });
    },
  });
});

afterAll(async () => {
  await server.close();
  protocol.close();
  metrics.stop();
  await hub.close();
});

/** The scrape as `name{labels}` -> value. */
async function scrape(): Promise<Map<string, number>> {
  const response = await fetch(`${server.url}/rt/metrics`, {
    headers: { authorization: `Bearer ${API_KEY}` },
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  const values = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

describe('metrics', () => {
  it('needs the key (bearer or a browser Basic password) and is 404 without an API', async () => {
    expect((await fetch(`${server.url}/rt/metrics`)).status).toBe(401);
    const basic = await fetch(`${server.url}/rt/metrics`, {
      headers: { authorization: `Basic ${btoa(`anyone:${API_KEY}`)}` },
    });
    expect(basic.status).toBe(200);
    const wrong = await fetch(`${server.url}/rt/metrics`, {
      headers: { authorization: `Basic ${btoa('anyone:wrong-key-0123456789')}` },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic/);
  });

  it('counts a fall-back, the connection by rung, its messages, publishes and its close code', async () => {
    const client = createClient({
      url: server.url,
      order: ['sse', 'websocket'],
      transports: {
        ...nodeTransports,
        sse: () => {
          throw new Error('blocked by the test');
        },
      },
      rememberRung: false,
    });
    const seen: unknown[] = [];
    client.on('message', (m) => seen.push(m.data));
    const sub = client.subscribe('m');
    await until(() => sub.lastSeq !== undefined, 'subscribed');
    for (let i = 0; i < 3; i++) await api(server.url, 'POST', '/rt/api/publish', { topic: 'm', data: i });
    await until(() => seen.length === 3, 'deliveries');

    const during = await scrape();
    expect(during.get('switchyard_connections_open{rung="websocket"}')).toBe(1);
    expect(during.get('switchyard_connection_attempts_total{rung="websocket",result="ok"}')).toBe(1);
    expect(during.get('switchyard_connection_attempts_total{rung="sse",result="error"}')).toBe(1);
    expect(during.get('switchyard_fallbacks_total{from="sse",to="websocket",reason="error"}')).toBe(1);
    // hello, the handshake's ping and sub at least; welcome, pong, reset and three messages at least.
    expect(during.get('switchyard_messages_received_total{rung="websocket"}')).toBeGreaterThanOrEqual(3);
    expect(during.get('switchyard_messages_sent_total{rung="websocket"}')).toBeGreaterThanOrEqual(6);
    expect(during.get('switchyard_sent_bytes_total{rung="websocket"}')).toBeGreaterThan(100);
    expect(during.get('switchyard_hub_publishes_total')).toBe(3);
    // One publish in 16 is timed: 13 more make the 16th.
    for (let i = 3; i < 16; i++) await api(server.url, 'POST', '/rt/api/publish', { topic: 'm', data: i });
    const timed = await scrape();
    expect(timed.get('switchyard_hub_publishes_total')).toBe(16);
    expect(timed.get('switchyard_hub_publish_seconds_count')).toBe(1);
    expect(timed.get('switchyard_hub_publish_seconds_bucket{le="+Inf"}')).toBe(1);
    await until(() => seen.length === 16, 'deliveries');

    await client.close();
    await until(() => protocol.activeConnections === 0, 'closed');
    const after = await scrape();
    expect(after.get('switchyard_connections_open{rung="websocket"}')).toBe(0);
    expect(after.get('switchyard_connections_closed_total{rung="websocket",code="1000"}')).toBe(1);
  });

  it('counts admission refusals and rate-limit closes', async () => {
    // A cross-site WebSocket is refused before it opens.
    const refused = new WebSocket(`${server.url.replace('http', 'ws')}/rt/ws`, 'switchyard.v1', {
      origin: 'https://evil.example',
    });
    await new Promise((resolve) => refused.on('error', resolve).on('close', resolve));
    // A connection that floods past the message rate is closed with RateLimited.
    const flood = createNodeWebSocketTransport({ url: `${server.url.replace('http', 'ws')}/rt/ws` });
    await new Promise((resolve) => flood.on('open', resolve));
    const closed = new Promise<number>((resolve) => flood.on('close', (event) => resolve(event.code)));
    const welcome = new Promise((resolve) => flood.on('message', resolve));
    await flood.send(JSON.stringify({ type: 'hello', v: 1 }));
    await welcome;
    for (let i = 0; i < 40; i++) flood.send(JSON.stringify({ type: 'ping', id: i })).catch(() => {});
    expect(await closed).toBe(CloseCode.RateLimited);
    await until(() => [...server.app.registry].length === 0, 'closed');
    const values = await scrape();
    expect(
      values.get('switchyard_connection_refusals_total{rung="websocket",error="ERR_FORBIDDEN_ORIGIN"}'),
    ).toBe(1);
    expect(values.get('switchyard_rate_limit_refusals_total{rung="websocket",limit="messages"}')).toBe(1);
    expect(values.get('switchyard_connections_closed_total{rung="websocket",code="4029"}')).toBe(1);
  });
});
