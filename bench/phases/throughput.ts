/**
 * Throughput rows and the server-bound proof. Every row's systems run round by round in a rotating order,
 * so drift on the shared machine hits each alike; tables report the median of the rounds, the spread, and
 * ratios of medians.
 */
import { measureLoad, type Sample, type Timing } from '../lib/measure.ts';
import { type ServerName, ServerProc, type WorkerProc } from '../lib/procs.ts';
import { isLargeRoundTrip, jobsFor, RATIOS, type Row, SYSTEMS, type SystemId } from '../lib/rows.ts';
import { fmtRate, median, spread, type Verdict, verdict } from '../lib/stats.ts';

export interface SystemResult {
  readonly samples: Sample[];
  readonly median: Sample;
  /** (max - min) / median of the rounds' rates. */
  readonly spread: number;
}

export interface RatioResult {
  readonly label: string;
  readonly of: SystemId;
  readonly to: SystemId;
  /** Ratio of median rates. */
  readonly value: number;
  /** Ratio of median server CPU per message, `to` / `of`: above 1 means `of` costs the server less per message. */
  readonly costValue: number;
  readonly target?: number;
  /** The ratio of medians reaches the target (what the issue states). */
  readonly met?: boolean;
  /** Each round's own ratio (both systems ran in it, seconds apart), in round order; older runs: absent. */
  readonly perRound?: number[];
  /** Whether the rounds decide the target beyond the machine's noise (bench/lib/stats.ts `verdict`). */
  readonly verdict?: Verdict;
}

export interface RowResult {
  readonly row: Row;
  readonly results: Partial<Record<SystemId, SystemResult>>;
  readonly ratios: RatioResult[];
}

export interface ProofResult {
  readonly processes: number;
  readonly rates: number[];
  readonly rate: number;
  readonly serverCpu: number;
  readonly clientCpu: number;
}

export interface Context {
  readonly servers: Record<ServerName, ServerProc>;
  readonly workers: readonly WorkerProc[];
  readonly timing: Timing;
  readonly rounds: number;
  /** Rounds of the round-trip rows from 64 KiB on, where the targets are decided (at least `rounds`). */
  readonly largeRounds: number;
  readonly progress: (line: string) => void;
}

function medianSample(samples: readonly Sample[]): Sample {
  return {
    rate: median(samples.map((s) => s.rate)),
    serverCpu: median(samples.map((s) => s.serverCpu)),
    serverUsPerMsg: median(samples.map((s) => s.serverUsPerMsg)),
    clientCpu: median(samples.map((s) => s.clientCpu)),
    serverFaultsPerMsg: median(samples.map((s) => s.serverFaultsPerMsg ?? Number.NaN)),
    ...medianStartup(samples),
  };
}

function medianStartup(samples: readonly Sample[]): Pick<Sample, 'startup'> {
  const startups = samples.flatMap((s) => (s.startup ? [s.startup] : []));
  if (startups.length === 0) return {};
  return {
    startup: {
      messages: median(startups.map((s) => s.messages)),
      rate: median(startups.map((s) => s.rate)),
      serverUsPerMsg: median(startups.map((s) => s.serverUsPerMsg)),
    },
  };
}

const rotate = <T>(items: readonly T[], by: number): T[] =>
  items.map((_, i) => items[(i + by) % items.length]!);

function describeSample(s: Sample): string {
  const startup = s.startup
    ? `  (warm-up: ${s.startup.messages} msgs, ${fmtRate(s.startup.rate)} msgs/s, ${s.startup.serverUsPerMsg.toFixed(0)} µs/msg)`
    : '';
  return `${fmtRate(s.rate).padStart(7)} msgs/s  server ${(s.serverCpu * 100).toFixed(0).padStart(3)}% cpu, ${s.serverUsPerMsg.toFixed(2)} µs/msg, ${(s.serverFaultsPerMsg ?? Number.NaN).toFixed(1)} faults/msg  clients ${(s.clientCpu * 100).toFixed(0)}%${startup}`;
}

/**
 * From this message size on, every sample gets a fresh server process: what a large-message row measures then
 * depends on that row alone, not on what the rows before it left in the process (sessions in their grace
 * period, per-topic history logs, a heap grown past V8's incremental-marking threshold), as in issue 20's table.
 * Small rows keep one process per system (starting one costs more than most of their samples).
 */
const FRESH_SERVER_BYTES = 64 * 1024;

/**
 * How long a fresh server's warm-up lasts: until 6,000 replies (or 3 s, for the slowest rows). Traced per 1,000
 * messages (`--trace-gc`, one connection x 16 of 64 KiB), our protocol server costs 90-130 µs per `pub` for its
 * first ~4,500 messages (optimising code, five mark-compacts while V8 raises the old generation's first limit)
 * and 40 µs from there on, raw `ws` 50-80 µs for its first ~3,000 and 40-50 µs after; with 100 connections
 * ours settles after ~9,000 messages, which 6,000 plus the 1 s window covers. A fixed 250 ms measured mostly the
 * start-up of whichever server started slowest. The warm-up is reported as its own figure (`startup`).
 */
export const FRESH_WARMUP = { replies: 6000, maxMs: 3000 } as const;

/**
 * Rounds of a row. The large round-trip rows get more: there a round's ratio swings by 0.3-0.7 on these
 * machines, and the sign test that says whether a target is met needs 8 rounds to decide at all
 * (docs/benchmarks.md, "eleventh round").
 */
function roundsOf(ctx: Context, row: Row): number {
  return isLargeRoundTrip(row) ? Math.max(ctx.rounds, ctx.largeRounds) : ctx.rounds;
}

export async function runThroughput(ctx: Context, rows: readonly Row[]): Promise<RowResult[]> {
  const samples = new Map<string, Sample[]>();
  const total = rows.reduce((n, r) => n + r.systems.length * roundsOf(ctx, r), 0);
  const rounds = Math.max(...rows.map((r) => roundsOf(ctx, r)));
  let done = 0;
  for (let round = 0; round < rounds; round++) {
    for (const row of rows) {
      if (round >= roundsOf(ctx, row)) continue;
      for (const system of rotate(row.systems, round)) {
        const fresh = row.size >= FRESH_SERVER_BYTES;
        const server = fresh
          ? await ServerProc.start(SYSTEMS[system].server, [], undefined, row.appHeapMb)
          : ctx.servers[SYSTEMS[system].server];
        const jobs = jobsFor(row, system, ctx.workers.length, server.port, `r${round}`);
        const timing = fresh ? { ...ctx.timing, warmupUntil: FRESH_WARMUP } : ctx.timing;
        const sample = await measureLoad(server, ctx.workers, jobs, timing).finally(() =>
          fresh ? server.stop() : undefined,
        );
        const key = `${row.id}/${system}`;
        samples.set(key, [...(samples.get(key) ?? []), sample]);
        done++;
        ctx.progress(
          `[${String(done).padStart(3)}/${total}] round ${round + 1}/${roundsOf(ctx, row)}  ${row.label}  ${SYSTEMS[system].label}: ${describeSample(sample)}`,
        );
      }
    }
  }
  return rows.map((row) => {
    const results: Partial<Record<SystemId, SystemResult>> = {};
    for (const system of row.systems) {
      const list = samples.get(`${row.id}/${system}`) ?? [];
      results[system] = {
        samples: list,
        median: medianSample(list),
        spread: spread(list.map((s) => s.rate)),
      };
    }
    const ratios = RATIOS[row.section]
      .filter((r) => results[r.of] && results[r.to])
      .map((r): RatioResult => {
        const of = results[r.of]!;
        const to = results[r.to]!;
        const value = of.median.rate / to.median.rate;
        const perRound = of.samples.map((s, i) => s.rate / (to.samples[i]?.rate ?? Number.NaN));
        const target = r.target?.(row);
        return {
          label: r.label,
          of: r.of,
          to: r.to,
          value,
          costValue: to.median.serverUsPerMsg / of.median.serverUsPerMsg,
          perRound,
          ...(target !== undefined
            ? { target, met: value >= target, verdict: verdict(perRound, target) }
            : {}),
        };
      });
    return { row, results, ratios };
  });
}

/**
 * The proof that the raw `ws` baseline is bound by its server, not by the clients: the same row with 1, k
 * and 2k load processes. Once the server is the bottleneck, more client processes add nothing.
 */
export async function runServerBoundProof(
  ctx: Context,
  row: Row,
  counts: readonly number[],
): Promise<ProofResult[]> {
  const byCount = new Map<number, Sample[]>();
  const server = ctx.servers.ws;
  for (let round = 0; round < ctx.rounds; round++) {
    for (const processes of rotate(counts, round)) {
      const jobs = jobsFor(row, 'ws', processes, server.port, `proof${round}`);
      const sample = await measureLoad(server, ctx.workers.slice(0, processes), jobs, ctx.timing);
      byCount.set(processes, [...(byCount.get(processes) ?? []), sample]);
      ctx.progress(
        `[proof] round ${round + 1}/${ctx.rounds}  raw ws, ${row.label}, ${processes} client process${processes > 1 ? 'es' : ''}: ${describeSample(sample)}`,
      );
    }
  }
  return counts.map((processes) => {
    const list = byCount.get(processes) ?? [];
    return {
      processes,
      rates: list.map((s) => s.rate),
      rate: median(list.map((s) => s.rate)),
      serverCpu: median(list.map((s) => s.serverCpu)),
      clientCpu: median(list.map((s) => s.clientCpu)),
    };
  });
}
