// Unreliable messages: cursor positions, latest value wins. No ack, no retry, no history: a position that is
// dropped or lost is superseded by the next one. Each update carries its own version so a receiver can ignore
// one that arrives after a newer one (datagrams may be reordered).
// Run it in this repository (sources, no build): npx tsx --conditions=switchyard-source docs/examples/cursors.ts

import { createClient } from 'switchyard/client';
import { MemoryHub } from 'switchyard/server/hub';
import { startNodeServer } from 'switchyard/server/node';
import { createProtocol } from 'switchyard/server/protocol';
import { nodeTransports } from 'switchyard/transports/node';

interface Cursor {
  user: string;
  version: number;
  x: number;
  y: number;
}

export async function main(): Promise<string[]> {
  const lines: string[] = [];
  const protocol = createProtocol({ hub: new MemoryHub() });
  const server = await startNodeServer({ onConnection: protocol.onConnection, port: 0 });

  const ann = createClient({ url: server.url, transports: nodeTransports });
  const bob = createClient<Cursor>({ url: server.url, transports: nodeTransports });
  const latest = new Map<string, Cursor>();
  bob.on('message', ({ data, reliable, seq }) => {
    const known = latest.get(data.user);
    if (known && known.version >= data.version) return; // an older position that arrived late
    latest.set(data.user, data);
    if (data.version % 25 === 0)
      lines.push(`${data.user} at ${data.x},${data.y} (reliable: ${reliable}, seq: ${seq})`);
  });
  const room = bob.subscribe('cursors');
  await Promise.all([ann.connect(), bob.connect()]);
  while (room.lastSeq === undefined) await new Promise((resolve) => setTimeout(resolve, 5));

  // Sixty updates a second is the model use; resolves at once: sent, or dropped when backed up or offline.
  for (let version = 1; version <= 100; version++) {
    await ann.publish('cursors', { user: 'ann', version, x: version * 2, y: 50 }, { reliable: false });
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  while ((latest.get('ann')?.version ?? 0) < 100) await new Promise((resolve) => setTimeout(resolve, 5));
  lines.push(
    `ann sent ${ann.stats.volatileSent}, dropped ${ann.stats.volatileDropped}; bob got ${bob.stats.volatileReceived}`,
  );
  lines.push(`nothing waits for an ack: ann.pending = ${ann.pending}`);

  ann.close();
  bob.close();
  await server.close();
  protocol.close();
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await main()) console.log(line);
}
