/**
 * The lab's data on disk: every run's raw samples gzipped (`runs.json.gz`, ~1 MB instead of ~4) and, beside it,
 * `summary.json` in plain text (the setup, the per-run metrics and the medians), so the numbers in the docs can
 * be read and diffed without unpacking anything. The charts and tables are drawn from the full file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { HolWorkload } from '../../server/demo/hol-workload.ts';
import { type LabRun, runMetrics, summarize } from './analyze.ts';

export const VARIANTS = {
  bulk: {},
  quiet: { bulkWindow: 0 },
} as const satisfies Record<string, Partial<HolWorkload>>;
export type Variant = keyof typeof VARIANTS;

export interface LabData {
  readonly createdAt: string;
  readonly machine: { readonly cpus: number; readonly kernel: string; readonly chromium: string };
  readonly path: {
    readonly oneWayDelayMs: number;
    readonly rateMbit: number;
    readonly queueKb: number;
    readonly tcpCongestionControl: string;
  };
  readonly workload: HolWorkload;
  readonly variants: Variant[];
  readonly elapsedMs: number;
  /** linkem's counters: frames forwarded, drops at the tbf queue, how late frames left, GSO frames seen. */
  readonly linkem: unknown;
  readonly summaries: ReturnType<typeof summarize>;
  readonly runs: LabRun[];
  /**
   * Scenarios measured again after the main run (`run.ts --replace`), e.g. after a fix to one rung: their runs
   * replaced that scenario's runs, so the tables compare a later code's scenario with the others' earlier runs.
   */
  readonly reruns?: readonly LabRerun[];
}

export interface LabRerun {
  readonly createdAt: string;
  readonly commit: string;
  readonly scenarios: readonly string[];
  readonly elapsedMs: number;
  readonly linkem: unknown;
}

/**
 * `previous` with the runs of `rerun.scenarios` replaced by `fresh`'s; the path and workload must match, or
 * the merged tables would compare different experiments.
 */
export function replaceScenarios(previous: LabData, fresh: LabData, rerun: LabRerun): LabData {
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (!same(previous.path, fresh.path) || !same(previous.workload, fresh.workload)) {
    throw new Error('--replace needs the same path and workload as the data it merges into');
  }
  const runs = [...previous.runs.filter((r) => !rerun.scenarios.includes(r.scenario)), ...fresh.runs];
  return { ...previous, runs, summaries: summarize(runs), reruns: [...(previous.reruns ?? []), rerun] };
}

/** Writes `file` (gzipped when it ends in .gz) and `summary.json` beside it. */
export function writeLabData(file: string, data: LabData): void {
  const json = JSON.stringify(data);
  writeFileSync(file, file.endsWith('.gz') ? gzipSync(json, { level: 9 }) : `${json}\n`);
  const { runs, ...rest } = data;
  const summary = {
    ...rest,
    runs: runs.map(({ result, ...run }) => ({
      ...run,
      rungs: result.rungs,
      incidents: result.incidents,
      pageStalls: result.pageStalls,
      sent: result.sent.reduce((a, b) => a + b, 0),
      received: result.samples.length,
      clientStats: result.stats,
      metrics: runMetrics({ ...run, result }),
    })),
  };
  writeFileSync(join(dirname(file), 'summary.json'), `${JSON.stringify(summary, null, 1)}\n`);
}

export function readLabData(file: string): LabData {
  const bytes = readFileSync(file);
  return JSON.parse((file.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8')) as LabData;
}
