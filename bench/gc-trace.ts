/**
 * What V8's garbage collector does in a server under a steady round-trip load: the bench's own server bundle
 * forked with `--trace-gc`, driven by `ws` clients, the GC lines counted over the last three quarters of the
 * messages (the first quarter is warm-up: JIT, the topic's log, the dedup windows growing). Counts of
 * scavenges and mark-compacts barely depend on the machine's load, where the throughput bench's rates do; this
 * is how the protocol's own garbage was found (docs/benchmarks.md, "Large messages (issue 20), fifth round").
 *
 *   node --import tsx bench/gc-trace.ts --server=proto|rung|ws|ws-hono --size=65536 --inflight=16 --conns=1
 *        --count=48000 [--codec=msgpack|json] [--flags=--trace-gc-nvp,--max-semi-space-size=8] [--marking] [--show]
 *
 * `proto` gets `pub`s with a fresh id each (the server acks): MessagePack with binary `data` (the default) or
 * JSON text with a string `data`; `rung` and `ws` the same frames echoed back whole. `BENCH_APP_HEAP_MB=N` in
 * the environment makes the server hold N MB of app state (bench/servers/control.ts). Prints one JSON line:
 * server CPU µs per message, the main thread's GC pauses per message, rate, scavenges and mark-compacts, the heap
 * after a mark-compact (median and largest) and, with `--marking`, why each incremental marking started.
 * `--every=1000` also prints one line per 1,000 answers from the first message on (server CPU per message, GCs):
 * how long a fresh server's start-up lasts, which decided the throughput bench's warm-up
 * (bench/phases/throughput.ts).
 *
 * Every connection is driven from this one process. An echo brings it the whole message back, which holds the rate
 * of `ws` and `rung` down, and a server held to a lower rate pays more per message: compare the CPU per message of
 * an echo with an echo and of an `ack` with an `ack`; the GC counts compare any two (docs/benchmarks.md, ninth
 * round). Between kinds, the throughput bench (two load processes) is the measure.
 */
import { fork } from 'node:child_process';
import { encode } from '@msgpack/msgpack';
import { WebSocket } from 'ws';
import { FIXED_MALLOC_ENV, procStat, type ServerName, serverCommand } from './lib/procs.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) =>
  args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const server = option('server', 'proto') as ServerName;
const size = Number(option('size', '65536'));
const inFlight = Number(option('inflight', '16'));
const conns = Number(option('conns', '1'));
const count = Number(option('count', '48000'));
const marking = args.includes('--marking');
const flags = [
  ...option('flags', '').split(',').filter(Boolean),
  ...(marking ? ['--trace-incremental-marking'] : []),
];
const json = option('codec', 'msgpack') === 'json';
const every = Number(option('every', '0'));

const { path, loader, args: serverArgs } = serverCommand(server);
const child = fork(path, serverArgs, {
  execArgv: [...loader, '--expose-gc', '--trace-gc', ...flags],
  stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  env: { ...process.env, ...FIXED_MALLOC_ENV },
});
let trace = '';
child.stdout?.on('data', (chunk: Buffer) => {
  trace += chunk.toString('latin1');
});
const port = await new Promise<number>((resolve) =>
  child.once('message', (m: { port: number }) => resolve(m.port)),
);

/** A binary frame on the default channel: a zero channel byte, then the MessagePack envelope. */
const frame = (value: unknown) => Buffer.concat([Buffer.from([0]), encode(value)]);
const ID = '1000000000';
const template = json
  ? Buffer.from(`:${JSON.stringify({ type: 'pub', id: ID, topic: 'gc', data: 'x'.repeat(size) })}`)
  : frame({ type: 'pub', id: ID, topic: 'gc', data: Buffer.alloc(size, 7) });
const idAt = template.indexOf(ID);

interface Client {
  readonly ws: WebSocket;
  /** Frames reused round-robin: one is rewritten only after twice the in-flight count of others went out. */
  readonly frames: Buffer[];
  sent: number;
}

const clients: Client[] = [];
for (let i = 0; i < conns; i++) {
  // An all-zero mask: the frame's bytes go out as they are, without a masked copy per message.
  const ws = new WebSocket(`ws://127.0.0.1:${port}/rt/ws`, 'switchyard.v1', {
    generateMask: (mask) => mask.fill(0),
  });
  await new Promise((resolve) => ws.once('open', resolve));
  ws.send(json ? ':{"type":"hello","v":1}' : frame({ type: 'hello', v: 1 }));
  await new Promise((resolve) => ws.once('message', resolve));
  clients.push({ ws, frames: Array.from({ length: inFlight * 2 }, () => Buffer.from(template)), sent: 0 });
}

/** Where the load stood: answers so far, the length of the trace, the server's CPU, the time. */
interface Mark {
  readonly answered: number;
  readonly traceAt: number;
  readonly cpu: number;
  readonly at: number;
}
let sent = 0;
let answered = 0;
const markNow = (): Mark => ({
  answered,
  traceAt: trace.length,
  cpu: procStat(child.pid ?? 0).cpuMicros,
  at: performance.now(),
});
/** GCs in a stretch of the trace (lines of `--trace-gc` or of `--trace-gc-nvp`). */
const gcsIn = (text: string) => {
  const lines = text.split('\n');
  const counted = (pattern: RegExp) => lines.filter((line) => pattern.test(line)).length;
  return { scavenges: counted(/Scavenge|gc=s /), markCompacts: counted(/Mark-Compact|gc=mc/) };
};
/**
 * The heap's size after each mark-compact (`--trace-gc`'s "-> N MB": the old generation, young objects having
 * been promoted or freed), median and largest. Above 8 MB V8 starts incremental marking whenever the old
 * generation's headroom runs short, where a smaller heap waits for external-memory pressure
 * (docs/benchmarks.md, "ninth round").
 */
const heapAfterMarkCompacts = (text: string) => {
  const sizes = [...text.matchAll(/Mark-Compact [\d.]+ \([\d.]+\) -> ([\d.]+) /g)]
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  if (sizes.length === 0) return {};
  return { heapAfterMcMb: sizes[Math.floor(sizes.length / 2)], heapAfterMcMaxMb: sizes[sizes.length - 1] };
};
/**
 * Main-thread time in GC over the stretch, from `--trace-gc` lines: each pause plus, for a mark-compact, the
 * incremental steps before it ("+ N ms in K steps"). Background threads' marking is not in it. Node 24's V8
 * adds "pooled: N MB," before the pause.
 */
const gcPauseMs = (text: string) => {
  let ms = 0;
  for (const m of text.matchAll(
    /(?:Scavenge|Mark-Compact)[^,]*,(?: pooled: [\d.]+ MB,)? ([\d.]+) \/ [\d.]+ ms(?:\s+\(\+ ([\d.]+) ms in)?/g,
  )) {
    ms += Number(m[1]) + Number(m[2] ?? 0);
  }
  return ms;
};
/** Why each incremental marking started (`--marking`: V8's `--trace-incremental-marking`), counted by reason. */
const markingStarts = (text: string) => {
  if (!marking) return {};
  const reasons: Record<string, number> = {};
  for (const m of text.matchAll(/\[IncrementalMarking\] Start \(([^)]+)\)/g)) {
    const reason = m[1] as string;
    reasons[reason] = (reasons[reason] ?? 0) + 1;
  }
  return { markingStarts: reasons };
};
const warmUp = Math.floor(count / 4);
const loadStart = markNow();
let measureFrom = loadStart;
/** Every `every` answers (`--every`). */
const steps: Mark[] = [];
const send = (client: Client) => {
  sent++;
  const next = client.frames[client.sent++ % client.frames.length] as Buffer;
  next.write(String(1e9 + sent), idAt, 'latin1');
  client.ws.send(next, { binary: !json });
};
await new Promise<void>((resolve) => {
  for (const client of clients) {
    client.ws.on('message', () => {
      answered++;
      if (every > 0 && answered % every === 0) steps.push(markNow());
      if (answered === warmUp) measureFrom = markNow();
      if (answered === count) resolve();
      else if (sent < count) send(client);
    });
    for (let i = 0; i < inFlight; i++) send(client);
  }
});
const measured = count - warmUp;
const measureTo = markNow();
const cpu = measureTo.cpu - measureFrom.cpu;
const wall = measureTo.at - measureFrom.at;
// The trace is read after a pause, so that the lines of the last messages have arrived.
await new Promise((resolve) => setTimeout(resolve, 200));
const measuredTrace = trace.slice(measureFrom.traceAt);
console.log(
  JSON.stringify({
    server,
    ...(server === 'proto' ? { codec: json ? 'json' : 'msgpack' } : {}),
    appHeapMb: Number(process.env.BENCH_APP_HEAP_MB ?? 0),
    size,
    conns,
    inFlight,
    measured,
    serverUsPerMsg: Math.round((cpu / measured) * 10) / 10,
    gcPauseUsPerMsg: Math.round(((gcPauseMs(measuredTrace) * 1000) / measured) * 10) / 10,
    rate: Math.round((measured / wall) * 1000),
    ...gcsIn(measuredTrace),
    ...heapAfterMarkCompacts(measuredTrace),
    ...markingStarts(measuredTrace),
  }),
);
let previous = loadStart;
for (const step of steps) {
  const { scavenges, markCompacts } = gcsIn(trace.slice(previous.traceAt, step.traceAt));
  const perMessage = (step.cpu - previous.cpu) / (step.answered - previous.answered);
  console.log(
    `${String(step.answered).padStart(7)} answered: ${perMessage.toFixed(0).padStart(4)} µs/msg, ${scavenges} scavenges, ${markCompacts} mark-compacts`,
  );
  previous = step;
}
if (args.includes('--show')) console.log(measuredTrace);
for (const client of clients) client.ws.close();
child.kill();
