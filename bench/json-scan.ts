/**
 * `node --import tsx bench/json-scan.ts`: the JSON byte path in isolation (no sockets), for the choice of string
 * scanner (docs/benchmarks.md, "Large messages (issue 20), fifth round"). Decodes a `pub` envelope from its
 * bytes (src/json-envelope.ts) with the SIMD scanner and with the JS word loop, alternating, and reports the
 * best time of many repetitions (the machine is shared: the minimum is the cost, the rest is the neighbours),
 * next to two `Buffer.indexOf` passes (quote and backslash: memchr) over the same bytes. Cases: one long string
 * (the throughput bench's payload), records of numbers and short strings, and a document of lines of text (how the
 * SIMD path's split between words and WebAssembly was chosen: docs/benchmarks.md, ninth round).
 */
import { useStringScanner } from '../src/json-bytes.ts';
import { decodeJsonEnvelopeBytes } from '../src/json-envelope.ts';
import { simdScanner } from '../src/json-simd.ts';

const envelope = (data: string) =>
  Buffer.from(`{"type":"pub","id":"000000000001","topic":"ack","data":${data}}`);

const objects = JSON.stringify(
  Array.from({ length: 3000 }, (_, i) => ({
    id: i,
    name: `user-${i}-with-a-longer-name`,
    tags: ['a', 'bb', 'some tag text here'],
    score: i * 1.5,
    ok: true,
  })),
);
// User text: lines of words with 1- to 4-byte characters, each line its own short string.
const words = 'lorem ipsum d\u00f6l\u00f8r s\u00eet \u00e4met \u2603 \u65e5\u672c \u{1f600}'.split(' ');
const document = JSON.stringify({
  title: 'document',
  lines: Array.from({ length: 1000 }, (_, i) =>
    Array.from({ length: 12 }, (_, j) => words[(i * 7 + j) % words.length]).join(' '),
  ),
});
const cases: [string, Buffer][] = [
  ...[65_536, 262_144, 1_048_576].map((n): [string, Buffer] => [
    `string ${n} B`,
    envelope(`"${'x'.repeat(n)}"`),
  ]),
  [`objects ${objects.length} B`, envelope(objects)],
  [`document ${Buffer.byteLength(document)} B`, envelope(document)],
];

/** Best ns per call of `run` over `rounds` timed batches. */
function best(bytes: number, rounds: number, run: () => void): number {
  const reps = Math.max(20, Math.floor(4e7 / bytes));
  let min = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) run();
    min = Math.min(min, Number(process.hrtime.bigint() - t) / reps);
  }
  return min;
}

for (const [label, bytes] of cases) {
  const ns = {
    simd: Number.POSITIVE_INFINITY,
    js: Number.POSITIVE_INFINITY,
    indexOf: Number.POSITIVE_INFINITY,
  };
  for (let turn = 0; turn < 4; turn++) {
    useStringScanner(turn % 2 === 0 ? simdScanner() : undefined);
    const t = best(bytes.length, 8, () => decodeJsonEnvelopeBytes(bytes));
    if (turn % 2 === 0) ns.simd = Math.min(ns.simd, t);
    else ns.js = Math.min(ns.js, t);
    ns.indexOf = Math.min(
      ns.indexOf,
      best(bytes.length, 8, () => bytes.indexOf(0x22, 60) + bytes.indexOf(0x5c, 60)),
    );
  }
  const per = (t: number) => `${(t / 1000).toFixed(1)} µs (${(t / bytes.length).toFixed(3)} ns/B)`;
  console.log(`${label}: SIMD ${per(ns.simd)}, JS words ${per(ns.js)}, 2 x indexOf ${per(ns.indexOf)}`);
}
