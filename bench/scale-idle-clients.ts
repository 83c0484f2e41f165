/**
 * Idle clients for the memory measurement of bench/scale-capacity.ts, in their own process: N switchyard
 * clients (the real client, one rung) that connect, subscribe to one topic and then do nothing but heartbeat.
 * argv: url rung count. IPC out: { ready: n }.
 */
import { type Client, createClient } from '../src/client/index.ts';
import type { TransportKind } from '../src/transport.ts';
import { nodeTransports } from '../transports/index.node.ts';

const [url, rung, countText] = process.argv.slice(2) as [string, TransportKind, string];
const count = Number(countText);
const clients: Client[] = [];
for (let i = 0; i < count; i += 200) {
  const wave = Array.from({ length: Math.min(200, count - i) }, () => {
    const c = createClient({ url, transports: nodeTransports, order: [rung], rememberRung: false });
    c.subscribe('idle');
    clients.push(c);
    return c.connect();
  });
  await Promise.all(wave);
}
process.send?.({ ready: clients.length });
process.on('message', (message: { exit?: boolean }) => {
  if (message.exit) process.exit(0);
});
