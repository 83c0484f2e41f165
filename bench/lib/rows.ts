/**
 * The matrix a bench run measures: which systems are compared in which rows, how each row's connections
 * are split over the load workers, and which ratios the targets are stated in.
 */
import type { LoadJob, LoadSystem } from '../clients/messages.ts';
import type { ServerName } from './procs.ts';

export interface SystemRef {
  readonly id: LoadSystem;
  readonly label: string;
  readonly server: ServerName;
}

export const SYSTEMS = {
  ws: { id: 'ws', label: 'raw ws', server: 'ws' },
  'ws-hono': { id: 'ws-hono', label: 'raw ws in a Hono app', server: 'ws-hono' },
  'sio-echo': { id: 'sio-echo', label: 'Socket.IO event echo', server: 'sio' },
  'sio-ack': { id: 'sio-ack', label: 'Socket.IO emit + ack', server: 'sio' },
  rung: { id: 'rung', label: 'our WebSocket rung (channel echo)', server: 'rung' },
  proto: { id: 'proto', label: 'our protocol pub -> ack', server: 'proto' },
  'proto-bin': {
    id: 'proto-bin',
    label: 'our protocol pub -> ack, MessagePack binary data',
    server: 'proto',
  },
  'proto-m': { id: 'proto-m', label: 'our protocol pub -> ack, metrics on', server: 'proto-m' },
  'ws-fan': { id: 'ws-fan', label: 'raw ws broadcast', server: 'ws' },
  'sio-fan': { id: 'sio-fan', label: 'Socket.IO room emit', server: 'sio' },
  'proto-fan': { id: 'proto-fan', label: 'our hub -> subscribers', server: 'proto' },
  'sse-raw-push': { id: 'sse-raw-push', label: 'hand-written SSE', server: 'sse-raw' },
  'sse-push': { id: 'sse-push', label: 'our SSE rung', server: 'rung' },
  'sse-raw-echo': { id: 'sse-raw-echo', label: 'hand-written SSE + POST', server: 'sse-raw' },
  'sse-echo': { id: 'sse-echo', label: 'our SSE rung', server: 'rung' },
} as const satisfies Record<string, SystemRef>;

export type SystemId = keyof typeof SYSTEMS;

export type Section = 'roundtrip' | 'fanout' | 'sse-push' | 'sse-echo';

export interface Row {
  readonly id: string;
  readonly section: Section;
  readonly label: string;
  readonly size: number;
  /** Connections (round trips, SSE) or subscribers (fan-out). */
  readonly conns: number;
  readonly inFlight: number;
  readonly systems: readonly SystemId[];
  /** MB of app state every server holds in this row (bench/servers/control.ts); absent: none. */
  readonly appHeapMb?: number;
}

/** A ratio the issue states a target for: `of` / `to`, per row. */
export interface RatioSpec {
  readonly of: SystemId;
  readonly to: SystemId;
  readonly label: string;
  /** Target for this row, if the issue states one. */
  readonly target?: (row: Row) => number | undefined;
}

/** Issue 20's rows: the round trips from 64 KiB on, where its targets are stated and its verdicts decided. */
export const isLargeRoundTrip = (row: Row) => row.section === 'roundtrip' && row.size >= 64 * KIB;

/** Issue 20: from 64 KiB on, the full protocol within 0.9x of raw `ws` echo. */
const largeTarget = (row: Row) => (isLargeRoundTrip(row) ? 0.9 : undefined);

export const RATIOS: Record<Section, readonly RatioSpec[]> = {
  roundtrip: [
    { of: 'rung', to: 'ws', label: 'rung / raw ws', target: () => 0.95 },
    {
      of: 'proto',
      to: 'sio-echo',
      label: 'protocol / Socket.IO echo',
      target: (row) => (row.size <= 1024 ? 1.5 : 1),
    },
    { of: 'proto', to: 'sio-ack', label: 'protocol / Socket.IO ack' },
    { of: 'proto', to: 'ws', label: 'protocol / raw ws', target: largeTarget },
    { of: 'proto-bin', to: 'ws', label: 'protocol, MessagePack binary / raw ws', target: largeTarget },
    { of: 'sio-echo', to: 'ws', label: 'Socket.IO echo / raw ws' },
    // What of the gap to raw `ws` is the framework every Hono app on Node carries (bench/servers/raw-ws-hono.ts).
    { of: 'rung', to: 'ws-hono', label: 'rung / raw ws in a Hono app' },
    { of: 'proto', to: 'ws-hono', label: 'protocol / raw ws in a Hono app' },
    { of: 'proto-bin', to: 'ws-hono', label: 'protocol, MessagePack binary / raw ws in a Hono app' },
    // Prometheus metrics must not cost the hot path (issue 17: within 3 %).
    { of: 'proto-m', to: 'proto', label: 'metrics on / off', target: () => 0.97 },
  ],
  fanout: [
    { of: 'proto-fan', to: 'sio-fan', label: 'hub / Socket.IO room', target: () => 1 },
    { of: 'proto-fan', to: 'ws-fan', label: 'hub / raw ws broadcast' },
  ],
  'sse-push': [{ of: 'sse-push', to: 'sse-raw-push', label: 'ours / hand-written' }],
  'sse-echo': [{ of: 'sse-echo', to: 'sse-raw-echo', label: 'ours / hand-written' }],
};

const KIB = 1024;
const MIB = 1024 * KIB;
const sizeLabel = (size: number) =>
  size >= MIB ? `${size / MIB} MiB` : size >= KIB ? `${size / KIB} KiB` : `${size} B`;

/**
 * The app state every server holds in the large rows' second set. A bare server is not what users run: an app's
 * process holds its own state, caches and sessions, and whether V8's old generation is over 8 MB decides how
 * often a server under large messages runs full mark-compacts (docs/benchmarks.md, "The 8 MB line"). Raw `ws`
 * rests at ~5 MB, ours at ~8: without app state the rows compare two GC regimes, with it one.
 */
const APP_HEAP_MB = 16;

/**
 * Requests outstanding per connection in the round-trip rows: 100 for small messages; for large ones a window
 * that fits the default limits (`highWaterMark` 1 MiB per connection): on one connection 16 x 64 KiB,
 * 4 x 256 KiB, 1 x 1 MiB; on each of 100, 4 x 64 KiB and 1 of the larger sizes.
 */
function inFlightFor(size: number, conns: number): number {
  if (size < 64 * KIB) return 100;
  if (conns > 1) return size === 64 * KIB ? 4 : 1;
  return Math.max(1, MIB / size);
}

/**
 * Raw `ws`, and from 64 KiB on raw `ws` in a Hono app as well: there a server's cost follows the heap each
 * mark-compact marks, and the framework is ~2 MB of it (docs/benchmarks.md, "tenth round").
 */
function baselines(size: number): readonly SystemId[] {
  return size >= 64 * KIB ? ['ws', 'ws-hono'] : ['ws'];
}

export function buildRows(quick: boolean, workers: number): Row[] {
  const rows: Row[] = [];
  const sizes = quick ? [64] : [64, KIB, 64 * KIB];
  const connCounts = quick ? [20] : [1, 100];
  for (const size of quick ? sizes : [...sizes, 256 * KIB, MIB]) {
    for (const conns of connCounts) {
      const inFlight = inFlightFor(size, conns);
      rows.push({
        id: `rt-${size}-${conns}`,
        section: 'roundtrip',
        label: `round trips ${sizeLabel(size)}, ${conns} conn${conns > 1 ? 's' : ''} x ${inFlight} in flight`,
        size,
        conns,
        inFlight,
        systems: [...baselines(size), 'sio-echo', 'sio-ack', 'rung', 'proto', 'proto-bin', 'proto-m'],
      });
    }
  }
  if (!quick) {
    for (const size of [64 * KIB, 256 * KIB, MIB]) {
      const inFlight = inFlightFor(size, 100);
      rows.push({
        id: `rt-${size}-100-app${APP_HEAP_MB}`,
        section: 'roundtrip',
        label: `round trips ${sizeLabel(size)}, 100 conns x ${inFlight} in flight, ${APP_HEAP_MB} MB of app state in every server`,
        size,
        conns: 100,
        inFlight,
        // metrics on: prom-client's heap takes a bare server over the 8 MB line; with an app's heap it does not decide.
        systems: [...baselines(size), 'rung', 'proto', 'proto-bin', 'proto-m'],
        appHeapMb: APP_HEAP_MB,
      });
    }
  }
  for (const size of sizes) {
    for (const conns of connCounts) {
      const inFlight = size < 64 * KIB ? 32 : 4;
      rows.push({
        id: `fan-${size}-${conns}`,
        section: 'fanout',
        label:
          conns === 1
            ? `deliveries ${sizeLabel(size)}, 1 publisher -> 1 subscriber, ${inFlight} in flight`
            : `deliveries ${sizeLabel(size)}, ${conns} subscribers (${workers} topics x ${conns / workers}, a publisher each), ${inFlight} in flight`,
        size,
        conns,
        inFlight,
        systems: ['ws-fan', 'sio-fan', 'proto-fan'],
      });
    }
  }
  for (const size of quick ? [64] : [64, KIB]) {
    for (const conns of connCounts) {
      rows.push({
        id: `ssepush-${size}-${conns}`,
        section: 'sse-push',
        label: `SSE push ${sizeLabel(size)} events, ${conns} stream${conns > 1 ? 's' : ''}`,
        size,
        conns,
        inFlight: 0,
        systems: ['sse-raw-push', 'sse-push'],
      });
    }
  }
  for (const conns of connCounts) {
    rows.push({
      id: `sseecho-64-${conns}`,
      section: 'sse-echo',
      label: `SSE echo 64 B (POST up, event down), ${conns} conn${conns > 1 ? 's' : ''} x 1 in flight`,
      size: 64,
      conns,
      inFlight: 1,
      systems: ['sse-raw-echo', 'sse-echo'],
    });
  }
  return rows;
}

/**
 * Splits a row over `workers` load processes: connections evenly; fan-out as one group (one publisher and
 * its subscribers) per worker, so each worker's publisher paces on its own subscribers.
 */
export function jobsFor(row: Row, system: SystemId, workers: number, port: number, tag: string): LoadJob[] {
  const n = row.conns === 1 ? 1 : workers;
  return Array.from({ length: n }, (_, i) => ({
    system: SYSTEMS[system].id,
    host: '127.0.0.1',
    port,
    conns: Math.floor(row.conns / n) + (i < row.conns % n ? 1 : 0),
    ...(row.section === 'fanout' ? { groups: [i] } : {}),
    size: row.size,
    inFlight: row.inFlight,
    tag: `${tag}-w${i}`,
  }));
}
