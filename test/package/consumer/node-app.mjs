// A Node app using switchyard the way a user does: plain JavaScript, `switchyard/...` from node_modules, no
// loader. Server (security with tokens, protocol, hub) and client in one process; one exchange per rung.
// Run by test/package/package.test.ts in a temporary project that cannot see the repository's sources.
import { CloseCode, isSwitchyardError, jsonCodec } from 'switchyard';
import { createClient } from 'switchyard/client';
import { closeCodeInfo } from 'switchyard/close-codes';
import { msgpackCodec } from 'switchyard/codec';
import { mountServerApi } from 'switchyard/server/api';
import { MemoryHub } from 'switchyard/server/hub';
import { createMetrics } from 'switchyard/server/metrics';
import { startNodeServer } from 'switchyard/server/node';
import { createProtocol } from 'switchyard/server/protocol';
import { createSecurity } from 'switchyard/server/security';
import { nodeTransports } from 'switchyard/transports/node';

const security = createSecurity({ requireTokens: true });
const hub = new MemoryHub();
const metrics = createMetrics();
metrics.instrumentHub(hub);
const protocol = createProtocol({ hub, authenticate: security.authenticateHello, onHello: metrics.onHello });
const key = 'package-test-key-0123456789';
const server = await startNodeServer({
  onConnection: protocol.onConnection,
  security,
  port: 0,
  configure: (app) => {
    metrics.attach(app);
    mountServerApi(app.app, { key, hub, routes: [metrics.routes] });
  },
});
const token = async () => {
  const response = await fetch(`${server.url}/rt/token`, { method: 'POST' });
  return (await response.json()).token;
};

const results = {};
for (const [kind, codec] of [
  ['websocket', jsonCodec],
  ['sse', msgpackCodec],
]) {
  const client = createClient({ url: server.url, transports: nodeTransports, order: [kind], token, codec });
  const topic = `room.${kind}`;
  client.subscribe(topic);
  const received = new Promise((resolve) => client.on('message', (m) => resolve(m)));
  await client.connect();
  await client.publish(topic, { hello: kind });
  const message = await received;
  results[kind] = { rung: client.rung, topic: message.topic, seq: message.seq, data: message.data };
  client.close();
}
const auth = { authorization: `Bearer ${key}` };
const published = await fetch(`${server.url}/rt/api/publish`, {
  method: 'POST',
  headers: auth,
  body: JSON.stringify({ topic: 'from.backend', data: 1 }),
});
results.api = await published.json();
const scraped = await (await fetch(`${server.url}/rt/metrics`, { headers: auth })).text();
results.metrics = /^switchyard_connections_opened_total\{rung="sse"\} 1$/m.test(scraped);
metrics.stop();
results.closeCode = closeCodeInfo(CloseCode.ForbiddenOrigin).name;
results.errorCheck = typeof isSwitchyardError;
results.node = process.version;
await server.close();
protocol.close();
console.log(JSON.stringify(results));
