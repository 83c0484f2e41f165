// Quickstart: a server (protocol handler + in-memory hub) and a client that subscribes and publishes.
// Run it in this repository (sources, no build): npx tsx --conditions=switchyard-source docs/examples/quickstart.ts

import { createClient } from 'switchyard/client';
import { MemoryHub } from 'switchyard/server/hub';
import { startNodeServer } from 'switchyard/server/node';
import { createProtocol } from 'switchyard/server/protocol';
import { nodeTransports } from 'switchyard/transports/node';

export async function main(): Promise<string[]> {
  const lines: string[] = [];
  // Server: every rung hands its connections to one protocol handler.
  const hub = new MemoryHub({ historySize: 1000 });
  const protocol = createProtocol({ hub });
  const server = await startNodeServer({ onConnection: protocol.onConnection, port: 0 });

  // Client: negotiates, picks the best rung that passes a ping/pong, and keeps it alive.
  const client = createClient({ url: server.url, transports: nodeTransports });
  client.on('state', (state) => lines.push(`state: ${state}`));
  const room = client.subscribe('room');
  const received = new Promise<void>((resolve) => {
    client.on('message', ({ topic, seq, data }) => {
      lines.push(`message ${topic}#${seq}: ${JSON.stringify(data)}`);
      resolve();
    });
  });
  await client.connect();
  lines.push(`connected over ${client.rung}`);
  await client.publish('room', { text: 'hello' }); // resolves when the server acknowledged it
  await received;
  lines.push(`last seq seen in room: ${room.lastSeq}`);

  client.close();
  await server.close();
  protocol.close();
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await main()) console.log(line);
}
