/** The JSON a bench run writes to bench/results/ (and the markdown in docs/benchmarks.md is rendered from). */
import type { BundleResult } from '../phases/bundle.ts';
import type { LatencyResult } from '../phases/latency.ts';
import type { MemoryResult } from '../phases/memory.ts';
import type { ProofResult, RowResult } from '../phases/throughput.ts';

export interface BenchResult {
  readonly version: 1;
  readonly mode: 'full' | 'quick';
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly environment: {
    readonly node: string;
    readonly cpus: number;
    readonly cpuModel: string;
    /** 1-minute load average at the start and the end: other work on the shared machine. */
    readonly loadAverage: readonly [number, number];
  };
  readonly settings: {
    readonly rounds: number;
    /** Rounds of the round-trip rows from 64 KiB on (older runs: absent, `rounds` for every row). */
    readonly largeRounds?: number;
    readonly warmupMs: number;
    readonly windowMs: number;
    readonly workers: number;
    readonly latencySamplesPerRound: number;
    readonly memoryConnections: number;
    /** glibc allocator thresholds of the servers under test (bench/lib/procs.ts FIXED_MALLOC_ENV). */
    readonly malloc?: 'fixed' | 'default';
    /** MB of app state every server under test held (`--app-heap`); absent: the servers as they are. */
    readonly appHeapMb?: number;
  };
  readonly serverBound?: { readonly row: string; readonly results: ProofResult[] };
  /** The same check on a large-message row (256 KiB, 100 connections): its own bottleneck may differ. */
  readonly serverBoundLarge?: { readonly row: string; readonly results: ProofResult[] };
  readonly throughput: RowResult[];
  readonly latency: LatencyResult[];
  readonly memory: MemoryResult[];
  readonly bundles: BundleResult[];
  /** The scale-out tables (bench/scale.ts: Redis fan-out, round trips per publish, 1 vs 2 nodes), as markdown. */
  readonly scale?: string;
  /** Phases that could not run, and why (never silently absent). */
  readonly skipped: readonly string[];
}
