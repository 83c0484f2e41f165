// The client under Deno, with the platform WebSocket (browserTransports): src/ runs outside Node.
// Run by test/client/deno.test.ts: deno run --allow-net --allow-read --allow-env --node-modules-dir=manual <this> <url>
import { createClient } from '../../src/client/index.ts';
import { browserTransports } from '../../transports/index.browser.ts';

const url = Deno.args[0] as string;
const client = createClient({ url, transports: browserTransports, rememberRung: false });
const sub = client.subscribe('room');
const got = new Promise((resolve) => client.on('message', (m) => resolve(m)));
await client.connect();
while (sub.lastSeq === undefined) await new Promise((r) => setTimeout(r, 5));
await client.publish('room', { from: 'deno' });
console.log(JSON.stringify({ rung: client.rung, message: await got }));
client.dispose();
