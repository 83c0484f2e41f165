// The client under Deno, from the installed package: the platform WebSocket, EventSource and WebTransport
// through `switchyard/transports/browser`, one exchange per rung against the Deno server. Prints results.
// Deno's WebTransport client needs --unstable-net.
import { createClient } from 'npm:switchyard/client';
import { browserTransports } from 'npm:switchyard/transports/browser';

const url = Deno.args[0]!;
const results: Record<string, unknown> = {};
for (const kind of ['webtransport', 'websocket', 'sse'] as const) {
  const client = createClient({
    url,
    transports: browserTransports,
    order: [kind],
    rememberRung: false,
    backoff: { maxAttempts: 3 }, // fail (and say why) instead of retrying for ever
  });
  const failures: string[] = [];
  client.on('attempt', (a) => {
    if (!a.ok) failures.push(`${a.kind}: ${a.error}`);
  });
  const topic = `deno.${kind}`;
  client.subscribe(topic);
  const echoed = new Promise((resolve) => client.on('message', (m) => resolve(m.data)));
  try {
    await client.connect();
    await client.publish(topic, { from: 'deno' });
    results[kind] = { rung: client.rung, echoed: await echoed };
  } catch (error) {
    results[kind] = `failed: ${(error as Error).message} (${failures.join('; ')})`;
  }
  client.dispose();
}
console.log(JSON.stringify(results));
