// Clients under Deno against two Deno nodes that share Redis (run by ./webtransport.test.ts): WebTransport over
// native HTTP/3 on both nodes, plus WebSocket and SSE, all on one topic. Every client publishes; every
// subscriber must see the same ordered stream. Prints one JSON line: each subscriber's (seq, from, n) list.
import { type Client, createClient } from '../../src/client/index.ts';
import type { TransportKind } from '../../src/transport.ts';
import { browserTransports } from '../../transports/index.browser.ts';

const [a, b] = Deno.args as [string, string];
const PER = 20;
const topic = 'echo.scale';

function client(base: string, kind: TransportKind): Client<{ from: string; n: number }> {
  return createClient<{ from: string; n: number }>({
    url: base,
    transports: browserTransports,
    order: [kind],
    rememberRung: false,
    climb: false,
    token: async () =>
      ((await (await fetch(`${base}/rt/token`, { method: 'POST' })).json()) as { token: string }).token,
  });
}

const members = [
  { name: 'wt@A', c: client(a, 'webtransport') },
  { name: 'wt@B', c: client(b, 'webtransport') },
  { name: 'ws@B', c: client(b, 'websocket') },
  { name: 'sse@A', c: client(a, 'sse') },
];
const got = new Map<string, [number, string, number][]>();
for (const m of members) {
  got.set(m.name, []);
  m.c.on('message', (msg) => got.get(m.name)?.push([msg.seq ?? -1, msg.data.from, msg.data.n]));
  m.c.subscribe(topic, { since: 0 });
}
await Promise.all(members.map((m) => m.c.connect()));
await Promise.all(
  members.flatMap((m) => Array.from({ length: PER }, (_, n) => m.c.publish(topic, { from: m.name, n }))),
);
const total = PER * members.length;
const deadline = Date.now() + 20_000;
while ([...got.values()].some((list) => list.length < total) && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 20));
}
console.log(
  JSON.stringify({ rungs: members.map((m) => `${m.name}:${m.c.rung}`), got: Object.fromEntries(got) }),
);
for (const m of members) m.c.dispose();
Deno.exit(0);
