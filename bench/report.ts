/**
 * Renders bench results as markdown: the tables of docs/benchmarks.md, generated between its
 * `<!-- bench:begin -->` and `<!-- bench:end -->` markers from the latest two full runs, each cell showing
 * run A / run B so the reader sees at once which numbers hold still and which move with load.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeGenerated } from './lib/docs.ts';
import type { BenchResult } from './lib/result.ts';
import { isLargeRoundTrip, RATIOS, type Section, SYSTEMS, type SystemId } from './lib/rows.ts';
import { fmtBytes, fmtRate, roundsAtTarget, VERDICT_LEVEL } from './lib/stats.ts';
import type { LatencyPhase, LatencyQuantiles } from './phases/latency.ts';
import { IDLE_READING_MS } from './phases/memory.ts';
import type { RatioResult, RowResult } from './phases/throughput.ts';

/** The issue's memory targets, by row (RSS per connection). */
const MEMORY_TARGETS: Partial<Record<string, string>> = {
  'proto-idle': '≤ 10 KB',
  'sse-hello-idle': '≤ 16 KB',
  'wt-hello-idle': 'measured and reported',
};

const pct = (x: number) => `${Math.round(x * 100)}%`;

/** ` k/n` rounds at the target, and the verdict where the rounds decide it (runs before the eleventh round: nothing). */
function roundsMark(r: RatioResult): string {
  if (r.target === undefined || !r.perRound || r.perRound.length === 0) return '';
  const above = roundsAtTarget(r.perRound, r.target);
  const decided = r.verdict === 'met' || r.verdict === 'missed' ? ` ${r.verdict}` : '';
  return ` ${above}/${r.perRound.length}${decided}`;
}
const ratio = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}x` : '–');

/** A ratio with its target's marks: ✓ / ✗ for the ratio of medians, then the rounds and the verdict. */
function targetCell(r: RatioResult | undefined): string {
  if (!r) return '–';
  return `${ratio(r.value)}${r.met === undefined ? '' : r.met ? ' ✓' : ' ✗'}${roundsMark(r)}`;
}

/** The ratios issue 20 states its targets in: the round trips' ratios to raw `ws` that have one. */
const LARGE_TARGETS = RATIOS.roundtrip.filter((spec) => spec.to === 'ws' && spec.target !== undefined);

/**
 * Issue 20's cells in one table: every round-trip row from 64 KiB on against the three ratios it sets targets for,
 * with each run's verdicts, and a count of the latest run's. The same cells are in the round-trip tables below,
 * among the other ratios.
 */
function largeTargetsTable(runs: readonly BenchResult[]): string {
  const latest = runs.at(-1)!;
  const rows = latest.throughput.filter((r) => isLargeRoundTrip(r.row));
  if (rows.length === 0) return '';
  const find = (run: BenchResult, id: string, label: string) =>
    run.throughput.find((r) => r.row.id === id)?.ratios.find((x) => x.label === label);
  const verdicts = rows.flatMap((r) =>
    LARGE_TARGETS.map((spec) => find(latest, r.row.id, spec.label)?.verdict),
  );
  const header = LARGE_TARGETS.map((spec) => {
    const targets = [...new Set(rows.map((r) => spec.target?.(r.row)))];
    return `${spec.label} (target ≥ ${targets.join(' / ')})`;
  });
  const count = (v: string) => verdicts.filter((x) => x === v).length;
  const tally = verdicts.some((v) => v !== undefined)
    ? ` In the latest run, of ${verdicts.length} cells: ${count('met')} met and ${count('missed')} missed beyond the noise, ${count('undecided')} undecided.`
    : '';
  return [
    '### Large messages against raw `ws` (issue 20)',
    '',
    `Rate ratio to raw \`ws\`'s echo, ratio of medians, ✓ / ✗ against the target; k/n: the rounds whose own ratio reached it, "met" / "missed" where the rounds decide it (a one-sided sign test at ${pct(VERDICT_LEVEL)}).${tally}`,
    '',
    table(
      ['row', ...header],
      rows.map((r) => [
        r.row.label,
        ...LARGE_TARGETS.map((spec) => across(runs, (run) => targetCell(find(run, r.row.id, spec.label)))),
      ]),
    ),
    '',
  ].join('\n');
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** One cell across runs: `a / b`. */
function across<T>(runs: readonly T[], cell: (run: T) => string): string {
  return runs.map(cell).join(' / ');
}

function rowsOf(run: BenchResult, section: Section): RowResult[] {
  return run.throughput.filter((r) => r.row.section === section);
}

function sectionTables(runs: readonly BenchResult[], section: Section, title: string): string {
  // The latest run decides which rows are listed (a row added since run A shows `–` for it there).
  const first = rowsOf(runs.at(-1)!, section);
  if (first.length === 0) return '';
  // Every system any row of the section measures (the large rows add a baseline), in SYSTEMS' order.
  const measured = new Set(first.flatMap((r) => r.row.systems as readonly SystemId[]));
  const systems = (Object.keys(SYSTEMS) as SystemId[]).filter((s) => measured.has(s));
  const find = (run: BenchResult, id: string) => rowsOf(run, section).find((r) => r.row.id === id);
  const rate = (run: BenchResult, id: string, s: SystemId) => {
    const r = find(run, id)?.results[s];
    return r ? `${fmtRate(r.median.rate)} (±${pct(r.spread / 2)})` : '–';
  };
  const cost = (run: BenchResult, id: string, s: SystemId) => {
    const r = find(run, id)?.results[s];
    return r ? `${r.median.serverUsPerMsg.toFixed(2)} (${pct(r.median.serverCpu)})` : '–';
  };
  const specs = RATIOS[section];
  const ratioCell = (run: BenchResult, id: string, label: string) =>
    targetCell(find(run, id)?.ratios.find((x) => x.label === label));
  const targetOf = (label: string) => {
    const spec = specs.find((s) => s.label === label);
    const targets = [...new Set(first.map((r) => spec?.target?.(r.row)).filter((t) => t !== undefined))];
    return targets.length > 0 ? ` (target ≥ ${targets.join(' / ')})` : '';
  };
  const perSystem = (cell: (run: BenchResult, id: string, s: SystemId) => string) =>
    table(
      ['measure', ...systems.map((s) => SYSTEMS[s].label)],
      first.map((r) => [r.row.label, ...systems.map((s) => across(runs, (run) => cell(run, r.row.id, s)))]),
    );
  const perRatio = (cell: (run: BenchResult, id: string, label: string) => string) =>
    table(
      ['measure', ...specs.map((s) => `${s.label}${targetOf(s.label)}`)],
      first.map((r) => [
        r.row.label,
        ...specs.map((s) => across(runs, (run) => cell(run, r.row.id, s.label))),
      ]),
    );
  const costCell = (run: BenchResult, id: string, label: string) => {
    const r = find(run, id)?.ratios.find((x) => x.label === label);
    return r ? ratio(r.costValue) : '–';
  };
  return [
    `### ${title}`,
    '',
    'Messages per second, median of the rounds (± half the spread between rounds):',
    '',
    perSystem(rate),
    '',
    'Ratios of medians (messages per second). Where a target applies, k/n: the rounds whose own ratio reached it; ' +
      `"met" or "missed" when the rounds decide it beyond the machine's noise (a one-sided sign test at ${pct(VERDICT_LEVEL)}: ` +
      '7 of 8 rounds on one side), nothing when they do not:',
    '',
    perRatio(ratioCell),
    '',
    'Server CPU time per message in µs (and how busy the server was during the window; 100% = one core):',
    '',
    perSystem(cost),
    '',
    'The same ratios from server CPU per message (cost of the second system / cost of the first: steadier under load):',
    '',
    perRatio(costCell),
    '',
  ].join('\n');
}

/** How many rounds each run measured (the large round trips have their own count since the eleventh round). */
function roundsText(runs: readonly BenchResult[]): string {
  const one = ({ settings: { rounds, largeRounds } }: BenchResult) =>
    largeRounds !== undefined && largeRounds > rounds
      ? `${rounds} rounds (the round trips from 64 KiB on: ${largeRounds})`
      : `${rounds} rounds`;
  const texts = runs.map(one);
  if (texts.every((t) => t === texts[0])) return texts[0]!;
  return texts.map((t, i) => `run ${String.fromCharCode(65 + i)}: ${t}`).join('; ');
}

export function renderResults(runs: readonly BenchResult[]): string {
  const a = runs[0]!;
  /** Rows of the latest run decide which rows are listed (a row added since run A shows `–` for it). */
  const latest = runs.at(-1)!;
  const out: string[] = [];
  const names = runs.length > 1 ? 'run A / run B' : 'this run';
  out.push(
    `Generated by \`npm run bench\` from ${runs.map((r) => `bench/results/full-${r.startedAt.replace(/[:.]/g, '-')}.json`).join(' and ')}. ` +
      `Cells show ${names}. ${runs
        .map(
          (r) =>
            `${r.startedAt.slice(0, 16)}Z: ${r.durationSeconds} s, node ${r.environment.node}, ${r.environment.cpus} × ${r.environment.cpuModel.trim()}, load average ${r.environment.loadAverage[0].toFixed(1)} -> ${r.environment.loadAverage[1].toFixed(1)}`,
        )
        .join('; ')}. ` +
      `${roundsText(runs)} of ${a.settings.windowMs} ms per system and row (after ${a.settings.warmupMs} ms warm-up), systems rotating round by round; ${a.settings.workers} load processes.`,
    '',
  );
  out.push(...proofTables(runs, (run) => run.serverBound, ''));
  out.push(...proofTables(runs, (run) => run.serverBoundLarge, ', large messages'));
  out.push(largeTargetsTable(runs));
  out.push(sectionTables(runs, 'roundtrip', 'Round trips over WebSocket (echo, ack, pub -> ack)'));
  out.push(sectionTables(runs, 'fanout', 'Fan-out: one publisher, deliveries to subscribers'));
  out.push(sectionTables(runs, 'sse-push', 'SSE push (server -> client events)'));
  out.push(sectionTables(runs, 'sse-echo', 'SSE round trips (POST up, event down)'));
  // Runs from before issue 20 have no `rest` (one p50 / p99 over all rounds): shown as –.
  const latencyOf = (run: BenchResult, system: string) =>
    run.latency.find((x) => x.system === system && 'rest' in x);
  if (latest.latency.some((l) => 'rest' in l)) {
    const range = (values: readonly number[]) =>
      values.length > 1 ? ` (${Math.min(...values).toFixed(0)}-${Math.max(...values).toFixed(0)})` : '';
    const cell = (phase: LatencyPhase | undefined, q: keyof LatencyQuantiles) =>
      phase ? `${phase.median[q].toFixed(0)}${range(phase.rounds.map((r) => r[q]))}` : '–';
    const p99Ratio = (of: string, to: string, phase: 'rest' | 'loaded') =>
      across(runs, (run) => {
        const ours = latencyOf(run, of);
        const other = latencyOf(run, to);
        return ours && other ? ratio(ours[phase].median.p99 / other[phase].median.p99) : '–';
      });
    const sample = latest.latency.find((l) => 'rest' in l)!;
    out.push(
      '### Latency, 64 B, one in flight',
      '',
      `${sample.samples} round trips per round and phase, ${sample.rest.rounds.length} rounds, a fresh server process per system and round: first at rest, then again right after a load on the same process (WebSocket systems: ${latest.latency.find((l) => l.system === 'ws')?.load ?? 'a load'}; SSE: its 100-connection echo). Median of the rounds, (min-max) over the rounds, in µs.`,
      '',
      table(
        [
          'system',
          'p50 at rest',
          'p99 at rest',
          'p99.9 at rest',
          'p50 after load',
          'p99 after load',
          'p99.9 after load',
        ],
        latest.latency.map((l) => [
          l.label,
          ...(['rest', 'loaded'] as const).flatMap((phase) =>
            (['p50', 'p99', 'p999'] as const).map((q) =>
              across(runs, (run) => cell(latencyOf(run, l.system)?.[phase], q)),
            ),
          ),
        ]),
      ),
      '',
      `p99 of our protocol / raw ws: at rest ${p99Ratio('proto', 'ws', 'rest')}, after load ${p99Ratio('proto', 'ws', 'loaded')}; / Socket.IO emit + ack: at rest ${p99Ratio('proto', 'sio-ack', 'rest')}, after load ${p99Ratio('proto', 'sio-ack', 'loaded')}.`,
      '',
    );
  }
  if (latest.memory.length > 0) {
    out.push(
      `### Server memory per idle connection (${a.settings.memoryConnections} connections, after full GC)`,
      '',
      table(
        [
          'connection',
          'RSS / conn',
          'JS heap / conn',
          'external / conn',
          `RSS / conn after ${IDLE_READING_MS / 1000} s idle`,
          'server CPU / handshake',
          'target (issue 11)',
        ],
        latest.memory.map((m) => {
          const cells = runs.map((run) => run.memory.find((x) => x.system === m.system));
          return [
            m.label,
            cells.map((c) => (c ? fmtBytes(c.rssPerConn) : '–')).join(' / '),
            cells.map((c) => (c ? fmtBytes(c.heapPerConn) : '–')).join(' / '),
            cells.map((c) => (c ? fmtBytes(c.externalPerConn) : '–')).join(' / '),
            cells.map((c) => (c?.idle ? fmtBytes(c.idle.rssPerConn) : '–')).join(' / '),
            cells
              .map((c) => (c?.cpuPerConnUs === undefined ? '–' : `${c.cpuPerConnUs.toFixed(0)} µs`))
              .join(' / '),
            MEMORY_TARGETS[m.system] ?? '',
          ];
        }),
      ),
      '',
    );
  }
  if (a.bundles.length > 0) {
    out.push(
      '### Browser bundle (esbuild, minified ESM, es2022, gzip -9)',
      '',
      table(
        ['bundle', 'initial min', 'initial min+gzip', 'lazy chunks min+gzip', 'target (issue 11)'],
        a.bundles.map((b) => [
          b.label,
          fmtBytes(b.initialMin),
          fmtBytes(b.initialGzip),
          b.lazyGzip > 0 ? fmtBytes(b.lazyGzip) : '–',
          b.id === 'ours-ws-sse' ? '≤ 7 KB min+gzip, WebTransport as a lazy chunk' : '',
        ]),
      ),
      '',
    );
  }
  if (latest.scale) {
    out.push(
      '### Scale-out on Redis (bench/scale.ts, latest run; see docs/scale-out.md)',
      '',
      latest.scale.split('\n').slice(1).join('\n').trim(),
      '',
    );
  }
  for (const run of runs) for (const s of run.skipped) out.push(`Not measured in ${run.startedAt}: ${s}`, '');
  return out.join('\n');
}

/** The latest two full runs in `dir`, oldest first. */
export function latestRuns(dir: string, count = 2): BenchResult[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith('full-') && f.endsWith('.json'))
    .sort()
    .slice(-count)
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as BenchResult);
}

/** Rewrites the generated part of docs/benchmarks.md; returns its path. */
export function renderDocs(dir: string, count = 2): string {
  return writeGenerated('bench', renderResults(latestRuns(dir, count)));
}

/** `--runs=1`: the latest run alone (when the one before it measured other code or another host). */
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const runs = Number(process.argv.find((a) => a.startsWith('--runs='))?.slice(7) ?? 2);
  process.stdout.write(`${renderDocs(fileURLToPath(new URL('./results/', import.meta.url)), runs)}\n`);
}

type Proof = BenchResult['serverBound'];

/** The server-bound check's table (raw `ws` with more client processes), for the proof `of` picks. */
function proofTables(runs: readonly BenchResult[], of: (run: BenchResult) => Proof, title: string): string[] {
  const proof = of(runs[0] as BenchResult);
  if (!proof) return [];
  const counts = proof.results.map((r) => r.processes);
  return [
    `### Server-bound check${title}: raw \`ws\` with more client processes`,
    '',
    `${proof.row}, raw \`ws\`, with ${counts.join(', ')} client processes: when the server is the bottleneck, more client processes add nothing, and the clients spend less CPU per message than the server.`,
    '',
    table(
      [
        'client processes',
        'raw ws msgs/s (median)',
        'rounds',
        'server CPU',
        'clients CPU',
        'CPU µs per message: server / clients',
      ],
      counts.map((n) => {
        const cells = runs.map((run) => of(run)?.results.find((r) => r.processes === n));
        return [
          String(n),
          cells.map((c) => (c ? fmtRate(c.rate) : '–')).join(' / '),
          cells.map((c) => (c ? c.rates.map(fmtRate).join(', ') : '–')).join(' / '),
          cells.map((c) => (c ? pct(c.serverCpu) : '–')).join(' / '),
          cells.map((c) => (c ? pct(c.clientCpu) : '–')).join(' / '),
          cells
            .map((c) =>
              c
                ? `${((c.serverCpu * 1e6) / c.rate).toFixed(2)} / ${((c.clientCpu * 1e6) / c.rate).toFixed(2)}`
                : '–',
            )
            .join(' ; '),
        ];
      }),
    ),
    '',
  ];
}
