// Typed messages: any Standard Schema library (zod here; valibot works the same) validates incoming data.
// A message that fails validation becomes an `error` event; handlers never see it and nothing throws.
// Run it in this repository (sources, no build): npx tsx --conditions=switchyard-source docs/examples/typed.ts

import { createClient } from 'switchyard/client';
import { MemoryHub } from 'switchyard/server/hub';
import { startNodeServer } from 'switchyard/server/node';
import { createProtocol } from 'switchyard/server/protocol';
import { nodeTransports } from 'switchyard/transports/node';
import { z } from 'zod';

const Message = z.discriminatedUnion('type', [
  z.object({ type: z.literal('chat'), user: z.string(), text: z.string() }),
  z.object({ type: z.literal('typing'), user: z.string() }),
]);

export async function main(): Promise<string[]> {
  const lines: string[] = [];
  const hub = new MemoryHub();
  const protocol = createProtocol({ hub });
  const server = await startNodeServer({ onConnection: protocol.onConnection, port: 0 });

  const client = createClient({ url: server.url, transports: nodeTransports, messages: Message });
  // One handler per message type; `data` is typed from the schema (data.text is a string here).
  client.handle('chat', (data, { seq }) => lines.push(`#${seq} ${data.user}: ${data.text}`));
  client.handle('typing', (data) => lines.push(`${data.user} is typing`));
  client.on('error', (error) => lines.push(`error ${error.code}: ${error.message}`));

  client.subscribe('room');
  await client.connect();
  await client.publish('room', { type: 'typing', user: 'ann' });
  await client.publish('room', { type: 'chat', user: 'ann', text: 'hi' });
  await client.publish('room', { type: 'chat', user: 'bob' }); // no text: fails validation on arrival
  await client.publish('room', { type: 'chat', user: 'bob', text: 'sorry' });
  while (lines.length < 4) await new Promise((resolve) => setTimeout(resolve, 5));

  client.close();
  await server.close();
  protocol.close();
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await main()) console.log(line);
}
