/**
 * The head-of-line workload, run in a browser through the production client: N small channels each sending
 * at a steady rate plus one bulk channel sending a large transfer at the same time, every message echoed back
 * by the server's hub (publish -> hub -> subscriber, the path an app's messages take). Both the lab
 * (bench/hol/) and the demo page's head-of-line panel run exactly this code, so what the panel draws live is
 * what the lab measures under loss.
 *
 * Per small message it records the channel, its number, the send time and the arrival time (one clock: the
 * page's `performance.now()`). Datagram runs are latest-value-wins: an update that arrives after a newer one
 * of its channel is superseded (counted, not used), and a lost one is never retried.
 */
import { createClient } from '../../src/client/index.ts';
import type { TransportKind } from '../../src/transport.ts';
import { browserTransports } from '../../transports/index.browser.ts';

export interface HolScenario {
  /** Stable name for data and charts, e.g. `wt-streams`. */
  readonly id: string;
  readonly kind: TransportKind;
  /** Client `lanes` (0: every topic on one stream). Undefined: the client's default. */
  readonly lanes?: number;
  /** Small channels as unreliable messages (datagrams on WebTransport over HTTP/3). */
  readonly unreliable?: boolean;
}

export const HOL_SCENARIOS: readonly HolScenario[] = [
  { id: 'websocket', kind: 'websocket' },
  { id: 'sse', kind: 'sse' },
  { id: 'wt-streams', kind: 'webtransport' },
  { id: 'wt-one-stream', kind: 'webtransport', lanes: 0 },
  { id: 'wt-datagrams', kind: 'webtransport', unreliable: true },
];

export interface HolWorkload {
  readonly channels: number;
  /** Each small channel sends one message per interval (channels are phase-shifted evenly). */
  readonly intervalMs: number;
  /** Padding of each small message (the envelope adds ~100 bytes). */
  readonly smallBytes: number;
  /** How long the small channels send; the bulk channel starts `warmupMs` earlier. */
  readonly durationMs: number;
  readonly warmupMs: number;
  /** Bulk: chunk size and how many unacknowledged chunks it keeps in flight (0 chunks: no bulk channel). */
  readonly bulkChunkBytes: number;
  readonly bulkWindow: number;
  /** Upper bound on bulk chunks per second: keeps the connection under the server's message-rate limit. */
  readonly bulkMaxChunksPerSecond: number;
}

/** The lab's default: 8 channels at 20 Hz (a game's objects, a few chat rooms) beside a 128 KiB-chunk upload. */
export const DEFAULT_WORKLOAD: HolWorkload = {
  channels: 8,
  intervalMs: 50,
  smallBytes: 64,
  durationMs: 15_000,
  warmupMs: 1500,
  bulkChunkBytes: 128 * 1024,
  bulkWindow: 2,
  bulkMaxChunksPerSecond: 25,
};

/** One small message: [channel, n, sentAt, arrivedAt] (ms, page clock, relative to the run's start). */
export type HolSample = [number, number, number, number];

export interface HolRunResult {
  readonly scenario: string;
  /** The rung at the end of the run (null if the connection was down then). */
  readonly rung: string | null;
  /** Every rung the client was on during the run (a healthy run has one). */
  readonly rungs: string[];
  readonly workload: HolWorkload;
  /** Small messages sent per channel. */
  readonly sent: number[];
  /** Every fresh arrival of a small message, in arrival order. */
  readonly samples: HolSample[];
  /** Datagram arrivals older than one already seen on their channel (latest-value-wins drops them). */
  readonly superseded: number;
  /** Bulk bytes that came back while the small channels were sending, and over how long. */
  readonly bulk: { readonly bytes: number; readonly ms: number; readonly chunks: number };
  readonly stats: { volatileSent: number; volatileDropped: number; volatileReceived: number };
  /** Client state changes after connecting (a healthy run has none, and each says why) and errors. */
  readonly incidents: string[];
  /** Publishes that failed (the client was closed or gave up on them). */
  readonly failedPublishes: number;
  /**
   * Moments the page's own event loop was held up for over 50 ms ([at, ms], run clock): a stall there delays
   * every channel on every rung alike, so it is the machine, not the network.
   */
  readonly pageStalls: [number, number][];
}

export interface HolRunOptions {
  readonly scenario: HolScenario;
  readonly workload?: Partial<HolWorkload>;
  readonly token?: () => Promise<string>;
  /** Called on every fresh small-message arrival (the panel draws as they come). */
  readonly onSample?: (sample: HolSample) => void;
  readonly signal?: AbortSignal;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface SmallPayload {
  c: number;
  n: number;
  t: number;
  p: string;
}
interface BulkPayload {
  b: number;
  p: string;
}

export async function runHolWorkload(options: HolRunOptions): Promise<HolRunResult> {
  const w: HolWorkload = { ...DEFAULT_WORKLOAD, ...options.workload };
  const { scenario } = options;
  const incidents: string[] = [];
  const client = createClient<unknown>({
    url: location.origin,
    transports: browserTransports,
    order: [scenario.kind],
    rememberRung: false,
    climb: false,
    // Room for the bulk window; the small channels never come near it.
    buffer: { maxBytes: 16 << 20, maxMessages: 100_000 },
    ...(scenario.lanes === undefined ? {} : { lanes: scenario.lanes }),
    ...(options.token ? { token: options.token } : {}),
  });
  const id = Math.random().toString(36).slice(2, 10);
  const small = Array.from({ length: w.channels }, (_, c) => `echo.hol.${id}.c${c}`);
  const bulkTopic = `echo.hol.${id}.bulk`;
  const channelOf = new Map(small.map((topic, c) => [topic, c]));
  const subs = [...small, ...(w.bulkWindow > 0 ? [bulkTopic] : [])].map((t) => client.subscribe(t));
  try {
    // A rung that cannot connect (blocked, or refused) fails the run instead of retrying for ever.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      client.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${scenario.kind} did not connect within 20 s`)), 20_000);
      }),
    ]).finally(() => clearTimeout(timer));
    while (subs.some((s) => s.lastSeq === undefined)) await sleep(5);
    const t0 = performance.now();
    let finished = false;
    let failedPublishes = 0;
    const rungs = new Set<string>(client.rung ? [client.rung] : []);
    client.on('rung', (r) => {
      if (r) rungs.add(r);
    });
    client.on('state', (s) => {
      if (finished) return;
      const info = client.closeInfo;
      const why = s !== 'connected' && info ? ` after ${info.code} ${info.name}: ${info.reason}` : '';
      incidents.push(`${s} at ${Math.round(performance.now() - t0)} ms${why}`);
    });
    client.on('error', (e) => incidents.push(`error ${e.code}: ${e.message}`));

    const smallStart = t0 + w.warmupMs;
    const smallEnd = smallStart + w.durationMs;
    const sent = new Array<number>(w.channels).fill(0);
    const latest = new Array<number>(w.channels).fill(-1);
    const samples: HolSample[] = [];
    let superseded = 0;
    const pageStalls: [number, number][] = [];
    let tick = performance.now();
    const lagProbe = setInterval(() => {
      const now = performance.now();
      if (now - tick > 60) pageStalls.push([round(tick - t0), round(now - tick - 10)]);
      tick = now;
    }, 10);
    let bulkBytes = 0;
    let bulkChunks = 0;
    const pad = 'x'.repeat(w.smallBytes);
    client.on('message', (m) => {
      const now = performance.now();
      if (m.topic === bulkTopic) {
        if (now >= smallStart && now <= smallEnd) {
          bulkBytes += (m.data as BulkPayload).p.length;
          bulkChunks++;
        }
        return;
      }
      const c = channelOf.get(m.topic);
      if (c === undefined) return;
      const data = m.data as SmallPayload;
      if (data.n <= (latest[c] as number)) {
        superseded++;
        return;
      }
      latest[c] = data.n;
      const sample: HolSample = [c, data.n, round(data.t - t0), round(now - t0)];
      samples.push(sample);
      options.onSample?.(sample);
    });

    let stopBulk = false;
    const bulk = w.bulkWindow > 0 ? runBulk() : Promise.resolve();
    async function runBulk(): Promise<void> {
      const chunk = 'b'.repeat(w.bulkChunkBytes);
      const minGap = 1000 / w.bulkMaxChunksPerSecond;
      let b = 0;
      const inFlight = new Set<Promise<void>>();
      let lastSend = 0;
      while (!stopBulk && !options.signal?.aborted) {
        if (inFlight.size >= w.bulkWindow) {
          await Promise.race(inFlight);
          continue;
        }
        const wait = lastSend + minGap - performance.now();
        if (wait > 0) await sleep(wait);
        lastSend = performance.now();
        const payload: BulkPayload = { b: b++, p: chunk };
        const p = client.publish(bulkTopic, payload).then(
          () => undefined,
          () => void failedPublishes++,
        );
        inFlight.add(p);
        void p.then(() => inFlight.delete(p));
      }
      await Promise.all(inFlight);
    }

    while (performance.now() < smallStart) await sleep(smallStart - performance.now());
    // One schedule for all channels: channel c sends at smallStart + c*interval/channels + k*interval.
    const slot = w.intervalMs / w.channels;
    for (let k = 0; ; k++) {
      const due = smallStart + k * slot;
      if (due >= smallEnd || options.signal?.aborted) break;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      const c = k % w.channels;
      const payload: SmallPayload = { c, n: sent[c] as number, t: performance.now(), p: pad };
      sent[c] = (sent[c] as number) + 1;
      client
        .publish(small[c] as string, payload, scenario.unreliable ? { reliable: false } : {})
        .catch(() => failedPublishes++);
    }
    stopBulk = true;
    // Stragglers: wait until every reliable message came back, or a grace period for lost datagrams.
    const expected = sent.reduce((a, b) => a + b, 0);
    const graceEnd = performance.now() + (scenario.unreliable ? 1500 : 20_000);
    while (samples.length + superseded < expected && performance.now() < graceEnd) await sleep(20);
    await Promise.race([bulk, sleep(5000)]);
    finished = true;
    clearInterval(lagProbe);
    return {
      scenario: scenario.id,
      rung: client.rung,
      rungs: [...rungs],
      workload: w,
      sent,
      samples,
      superseded,
      bulk: { bytes: bulkBytes, ms: w.durationMs, chunks: bulkChunks },
      stats: { ...client.stats },
      incidents,
      failedPublishes,
      pageStalls,
    };
  } finally {
    client.dispose();
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
