/**
 * Large JSON `pub` -> `ack` over WebTransport on native HTTP/3, the protocol on Deno (bench/servers/wt.deno.ts,
 * mode `protocol`) driven by Deno's WebTransport client through our rung: what a server pays per message when a
 * large text frame is handed to the protocol as bytes (checked with `buffer.isUtf8`, its JSON `data` kept as
 * bytes) rather than decoded into a string and parsed. No baseline runs here (Node's HTTP/3 cannot install on
 * these machines, so there is no raw-`ws`-like peer on this rung): compare two revisions of the server with it.
 *
 *   deno run --no-check --unstable-net --allow-all bench/wt-pub.deno.ts \
 *     [--size=65536] [--conns=10] [--inflight=4] [--count=20000]
 *
 * `data` is a document of about `size` bytes of UTF-8 text (words with 1- to 4-byte characters). Prints one JSON
 * line: server CPU µs per message over the last three quarters of the messages, and the rate.
 */
import { DENO_RUN } from '../server/deno/launch.ts';
import { createWebTransportTransport } from '../transports/webtransport/client.ts';
import { cpuMicros } from './lib/proc-stat.ts';

const option = (name: string, fallback: number) =>
  Number(Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const size = option('size', 65536);
const conns = option('conns', 10);
const inFlight = option('inflight', 4);
const count = option('count', 20000);

const server = new Deno.Command(Deno.execPath(), {
  args: [
    ...DENO_RUN,
    // e.g. --inspect=127.0.0.1:9229, to profile the server from a DevTools client.
    ...(Deno.env.get('WT_PUB_SERVER_FLAGS') ?? '').split(' ').filter(Boolean),
    new URL('./servers/wt.deno.ts', import.meta.url).pathname,
    'protocol',
  ],
  stdin: 'piped',
  stdout: 'piped',
  stderr: 'inherit',
}).spawn();
const output = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
let head = '';
while (!head.includes('\n')) {
  const { value, done } = await output.read();
  if (done) throw new Error('the server exited before listening');
  head += value;
}
const { port, hash } = JSON.parse(head.slice(0, head.indexOf('\n'))) as {
  port: number;
  hash: { value: string };
};

const serverCpu = () => cpuMicros(server.pid);

// A document rather than one ASCII run: words with accented letters and symbols, as user text has (an ASCII-only
// string is the cheapest case for a decoder and for JSON.parse alike).
const words = 'lorem ipsum d\u00f6l\u00f8r s\u00eet \u00e4met \u2603 \u65e5\u672c \u{1f600} '.split(' ');
const line = (i: number) => Array.from({ length: 12 }, (_, j) => words[(i * 7 + j) % words.length]).join(' ');
const lines: string[] = [];
for (let i = 0, bytes = 0; bytes < size; i++) {
  lines.push(line(i));
  bytes += new TextEncoder().encode(lines[lines.length - 1]).byteLength + 4;
}
const data = { title: 'document', lines };
let sent = 0;
let acked = 0;
const warmUp = Math.floor(count / 4);
let from = { cpu: 0, at: 0 };
const done = Promise.withResolvers<void>();
/** Each connection's first window of `pub`s, sent once every connection is welcomed. */
const starters: (() => void)[] = [];
for (let c = 0; c < conns; c++) {
  const t = createWebTransportTransport({
    url: `https://127.0.0.1:${port}/`,
    certificateHashes: [{ algorithm: 'sha-256', value: hash.value }],
    maxMessageBytes: 2 * size + 1024,
  });
  await new Promise<void>((resolve, reject) => {
    t.on('open', () => resolve());
    t.on('close', (e) => reject(new Error(`closed ${e.code} ${e.reason}`)));
  });
  const welcomed = Promise.withResolvers<void>();
  const pub = () => {
    sent++;
    void t.send(JSON.stringify({ type: 'pub', id: `${c}-${sent}`, topic: `t${c}`, data }));
  };
  t.on('message', (m) => {
    const text = m.data as string;
    if (text.startsWith('{"type":"welcome"')) return welcomed.resolve();
    if (!text.startsWith('{"type":"ack"')) throw new Error(`unexpected answer: ${text.slice(0, 120)}`);
    acked++;
    if (acked === warmUp) from = { cpu: serverCpu(), at: performance.now() };
    if (acked === count) done.resolve();
    else if (sent < count) pub();
  });
  void t.send(JSON.stringify({ type: 'hello', v: 1 }));
  await welcomed.promise;
  starters.push(() => {
    for (let i = 0; i < inFlight; i++) pub();
  });
}
for (const start of starters) start();
await done.promise;
const measured = count - warmUp;
const cpu = serverCpu() - from.cpu;
const wall = performance.now() - from.at;
console.log(
  JSON.stringify({
    size,
    conns,
    inFlight,
    measured,
    serverUsPerMsg: Math.round((cpu / measured) * 10) / 10,
    rate: Math.round((measured / wall) * 1000),
  }),
);
server.kill();
Deno.exit(0);
