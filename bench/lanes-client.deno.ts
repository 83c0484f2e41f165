// Opens CLIENTS clients over WebTransport (HTTP/3) with LANES lanes each; every client follows LANES topics
// (or 16 when LANES is 0) and publishes once to each, so each lane carries traffic both ways. Prints "ready"
// with timings, then holds the sessions open until stdin closes. Driven by bench/lanes.ts.
import { createClient } from '../src/client/index.ts';
import { browserTransports } from '../transports/index.browser.ts';

const [base, clientsArg, lanesArg] = Deno.args as [string, string, string];
const clients = Number(clientsArg);
const lanes = Number(lanesArg);
const topics = lanes === 0 ? 16 : lanes;
const negotiate = (await (await fetch(`${base}/rt/negotiate`)).json()) as { tokenUrl: string };
const token = async () =>
  ((await (await fetch(negotiate.tokenUrl, { method: 'POST' })).json()) as { token: string }).token;

const started = performance.now();
const open = [];
const firstMessageMs: number[] = [];
for (let c = 0; c < clients; c++) {
  const client = createClient({
    url: base,
    transports: browserTransports,
    order: ['webtransport'],
    rememberRung: false,
    climb: false,
    lanes,
    token,
  });
  await client.connect();
  const names = Array.from({ length: topics }, (_, t) => `echo.lanes.${c}.${t}`);
  const subs = names.map((n) => client.subscribe(n));
  while (subs.some((s) => s.lastSeq === undefined)) await new Promise((r) => setTimeout(r, 2));
  const t0 = performance.now();
  await Promise.all(names.map((n) => client.publish(n, { c })));
  firstMessageMs.push(performance.now() - t0);
  open.push(client);
}
const sorted = [...firstMessageMs].sort((a, b) => a - b);
console.log(
  JSON.stringify({
    ready: true,
    clients,
    lanes,
    topicsPerClient: topics,
    setupMs: Math.round(performance.now() - started),
    publishAllTopicsMsP50: Number((sorted[Math.floor(sorted.length / 2)] ?? 0).toFixed(2)),
  }),
);
for await (const _ of Deno.stdin.readable) {
  // hold until the driver closes stdin
}
for (const client of open) client.dispose();
