// A Node app using switchyard the way a user does: plain JavaScript, `switchyard/...` from node_modules, no
// loader. Server (security with tokens, protocol, hub) and client in one process; one exchange per rung.
// Run by test/package/package.test.ts in a temporary project that cannot see the repository's sources.
import { CloseCode, isSwitchyardError, jsonCodec } from 'switchyard';
import { createClient } from 'switchyard/client';
import { closeCodeInfo } from 'switchyard/close-codes';
import { msgpackCodec } from 'switchyard/codec';
import { MemoryHub } from 'switchyard/server/hub';
import { startNodeServer } from 'switchyard/server/node';
import { createProtocol } from 'switchyard/server/protocol';
import { createSecurity } from 'switchyard/server/security';
import { nodeTransports } from 'switchyard/transports/node';

const security = createSecurity({ requireTokens: true });
const hub = new MemoryHub();
const protocol = createProtocol({ hub, authenticate: security.authenticateHello });
const server = await startNodeServer({ onConnection: protocol.onConnection, security, port: 0 });
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
results.closeCode = closeCodeInfo(CloseCode.ForbiddenOrigin).name;
results.errorCheck = typeof isSwitchyardError;
results.node = process.version;
await server.close();
protocol.close();
console.log(JSON.stringify(results));
