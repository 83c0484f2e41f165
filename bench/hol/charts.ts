/**
 * Draws the head-of-line lab's charts from its data (docs/head-of-line/runs.json.gz, written by ./run.ts) and
 * writes the tables of docs/head-of-line.md between its `hol:tables` markers, so every number and picture in
 * that page comes from the committed data by this script:
 *
 *   node --import tsx bench/hol/charts.ts [runs.json]
 *
 * - latency.svg: the distribution (CDF, log time) of the small channels' latency per scenario, one panel per
 *   loss rate, for both workloads (beside a bulk upload; alone);
 * - timeline.svg: one run per scenario at 2 % loss, small channels alone: every message by send time, so a
 *   TCP loss shows as a stall across all channels at once and a QUIC loss as one channel's blip;
 * - timeline-bulk.svg: the same beside the bulk upload.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { latencyOf } from '../../server/demo/hol-metrics.ts';
import { findSummary, type LabRun, type Summary } from './analyze.ts';
import { type LabData, readLabData } from './data.ts';
import { CHANNEL_COLORS, fmtMs, linearScale, logScale, PALETTE, Svg } from './svg.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = join(ROOT, 'docs', 'head-of-line');
const DOC = join(ROOT, 'docs', 'head-of-line.md');

export const SCENARIO_LABELS: Record<string, string> = {
  websocket: 'WebSocket',
  sse: 'SSE + POST',
  'wt-streams': 'WebTransport, stream per channel',
  'wt-one-stream': 'WebTransport, one stream',
  'wt-datagrams': 'WebTransport datagrams',
};

const VARIANT_LABELS: Record<string, string> = {
  bulk: 'beside a bulk upload',
  quiet: 'small channels alone',
};

function scenariosOf(data: LabData): string[] {
  return [...new Set(data.runs.map((r) => r.scenario))];
}

function lossesOf(data: LabData): number[] {
  return [...new Set(data.runs.map((r) => r.lossPercent))].sort((a, b) => a - b);
}

function latencyChart(data: LabData): string {
  const losses = lossesOf(data);
  const scenarios = scenariosOf(data);
  const variants = data.variants;
  const pw = 250;
  const ph = 170;
  const left = 70;
  const top = 60;
  const gapX = 30;
  const gapY = 78;
  const width = left + losses.length * (pw + gapX);
  const height = top + variants.length * (ph + gapY) + 10;
  const svg = new Svg(width, height, 'Latency of the small channels per scenario and loss rate');
  svg.legend(
    left,
    22,
    scenarios.map((s) => [PALETTE[s] ?? '#000', SCENARIO_LABELS[s] ?? s]),
  );
  svg.text(
    left,
    42,
    `CDF of publish -> echo latency, all runs pooled; path ${data.path.oneWayDelayMs * 2} ms RTT, ${data.path.rateMbit} Mbit/s`,
    'class="note"',
  );
  variants.forEach((variant, row) => {
    losses.forEach((loss, col) => {
      const box = { x: left + col * (pw + gapX), y: top + 18 + row * (ph + gapY), w: pw, h: ph };
      const x = logScale([10, 10_000], [box.x, box.x + box.w]);
      const y = linearScale([0, 1], [box.y + box.h, box.y], [0, 0.5, 0.9, 0.99]);
      svg.axes(box, x, y, {
        x: 'latency (log)',
        y: 'share of messages',
        title: `${loss} % loss, ${VARIANT_LABELS[variant] ?? variant}`,
        xTick: fmtMs,
        yTick: (v) => `${Math.round(v * 100)}%`,
      });
      for (const scenario of scenarios) {
        const latencies = data.runs
          .filter((r) => r.variant === variant && r.scenario === scenario && r.lossPercent === loss)
          .flatMap((r) => r.result.samples.map(latencyOf))
          .sort((a, b) => a - b);
        if (latencies.length === 0) continue;
        const points: [number, number][] = [];
        const steps = 300;
        for (let i = 0; i <= steps; i++) {
          const q = i / steps;
          const v = latencies[
            Math.min(latencies.length - 1, Math.floor(q * (latencies.length - 1)))
          ] as number;
          points.push([x(v), y(q)]);
        }
        svg.polyline(points, `stroke="${PALETTE[scenario] ?? '#000'}" stroke-width="1.8"`);
      }
    });
  });
  return svg.toString();
}

/** The `windowMs` stretch of `run` around its worst moment (or `centerMs` when given). */
function timelinePanel(
  svg: Svg,
  run: LabRun,
  box: { x: number; y: number; w: number; h: number },
  window: [number, number],
  yMax: number,
  title: string,
): void {
  const x = linearScale(window, [box.x, box.x + box.w], ticksBetween(window));
  const yTicks = niceTicks(yMax);
  const y = linearScale([0, yMax], [box.y + box.h, box.y], yTicks);
  svg.axes(box, x, y, {
    x: 'send time in the run (s)',
    y: 'latency (ms)',
    title,
    xTick: (v) => (v / 1000).toFixed(1),
  });
  const byChannel = new Map<number, [number, number][]>();
  for (const s of run.result.samples) {
    if (s[2] < window[0] || s[2] > window[1]) continue;
    const list = byChannel.get(s[0]) ?? [];
    list.push([x(s[2]), y(Math.min(latencyOf(s), yMax))]);
    byChannel.set(s[0], list);
  }
  for (const [c, points] of byChannel)
    svg.dots(points, 3.2, CHANNEL_COLORS[c % CHANNEL_COLORS.length] as string);
}

/**
 * The stretch of a run where most messages were held up (over 1.5x the run's median), leaving out any
 * stretch in which the page's own event loop stalled: that delays every rung alike and is not the network.
 */
function busiestWindow(run: LabRun, windowMs: number): [number, number] {
  const { warmupMs, durationMs } = run.result.workload;
  const latencies = run.result.samples.map(latencyOf).sort((a, b) => a - b);
  const threshold = 1.5 * (latencies[Math.floor(latencies.length / 2)] ?? 0);
  const stalls = run.result.pageStalls ?? [];
  let best: [number, number] = [warmupMs, warmupMs + windowMs];
  let bestScore = -1;
  for (let start = warmupMs; start + windowMs <= warmupMs + durationMs; start += 250) {
    const end = start + windowMs;
    if (stalls.some(([at, ms]) => at + ms >= start && at <= end + 2000)) continue;
    const score = run.result.samples.filter(
      (s) => s[2] >= start && s[2] <= end && latencyOf(s) > threshold,
    ).length;
    if (score > bestScore) {
      bestScore = score;
      best = [start, end];
    }
  }
  return best;
}

function ticksBetween([a, b]: [number, number]): number[] {
  const ticks: number[] = [];
  for (let t = Math.ceil(a / 500) * 500; t <= b; t += 500) ticks.push(t);
  return ticks;
}

function niceTicks(max: number): number[] {
  const step = max > 1500 ? 500 : max > 600 ? 200 : max > 250 ? 100 : 50;
  const ticks: number[] = [];
  for (let t = 0; t <= max; t += step) ticks.push(t);
  return ticks;
}

function timelineChart(data: LabData, variant: string, loss: number, scenarios: string[]): string | null {
  const runs = scenarios.map((s) =>
    data.runs.find(
      (r) => r.variant === variant && r.scenario === s && r.lossPercent === loss && r.repeat === 0,
    ),
  );
  const ws = runs[0];
  if (!ws || runs.some((r) => !r)) return null;
  const windowMs = 4000;
  const window = busiestWindow(ws, windowMs);
  const inWindow = (r: LabRun) => r.result.samples.filter((s) => s[2] >= window[0] && s[2] <= window[1]);
  const yMax =
    Math.ceil((Math.max(...runs.flatMap((r) => inWindow(r as LabRun).map(latencyOf))) * 1.05) / 50) * 50;
  const pw = 900;
  const ph = 150;
  const left = 70;
  const top = 62;
  const gap = 62;
  const svg = new Svg(
    left + pw + 20,
    top + scenarios.length * (ph + gap),
    `Timeline of one run per scenario`,
  );
  svg.text(
    left,
    22,
    `${loss} % loss, ${VARIANT_LABELS[variant] ?? variant}: every small message in a ${windowMs / 1000} s stretch (colour = channel)`,
    'class="title"',
  );
  svg.text(
    left,
    40,
    'One run per scenario, same conditions, different moments; shown: the stretch where most WebSocket messages were held up (page stalls excluded).',
    'class="note"',
  );
  runs.forEach((run, i) => {
    const box = { x: left, y: top + 14 + i * (ph + gap), w: pw, h: ph };
    const scenario = scenarios[i] as string;
    timelinePanel(svg, run as LabRun, box, window, yMax, SCENARIO_LABELS[scenario] ?? scenario);
  });
  return svg.toString();
}

const f0 = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : '–');
const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '–');
const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
const withSpread = (s: { median: number; min: number; max: number }, f: (v: number) => string) =>
  `${f(s.median)} (${f(s.min)}–${f(s.max)})`;

function table(data: LabData, variant: string): string {
  const rows = [
    '| scenario | loss | p50 ms | p99 ms | per-channel p99 ms | max ms | longest gap ms | held up | delivered | bulk Mbit/s |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const loss of lossesOf(data)) {
    for (const scenario of scenariosOf(data)) {
      const s = findSummary(data.summaries, variant, scenario, loss);
      if (!s) continue;
      rows.push(
        `| ${SCENARIO_LABELS[scenario] ?? scenario} | ${loss} % | ${withSpread(s.p50, f0)} | ${withSpread(s.p99, f0)} | ${withSpread(s.channelP99, f0)} | ${withSpread(s.max, f0)} | ${withSpread(s.stallMax, f0)} | ${pct(s.lateShare.median)} | ${pct(s.delivered.median)} | ${variant === 'quiet' ? '–' : withSpread(s.bulkMbps, f1)} |`,
      );
    }
  }
  return rows.join('\n');
}

function ratios(data: LabData): string {
  const rows = [
    '| loss | workload | WebTransport streams / WebSocket, per-channel p99 | target ≤ 0.5 |',
    '|---|---|---|---|',
  ];
  for (const variant of data.variants) {
    for (const loss of lossesOf(data)) {
      const wt = findSummary(data.summaries, variant, 'wt-streams', loss);
      const ws = findSummary(data.summaries, variant, 'websocket', loss);
      if (!wt || !ws) continue;
      const ratio = wt.channelP99.median / ws.channelP99.median;
      rows.push(
        `| ${loss} % | ${VARIANT_LABELS[variant] ?? variant} | ${ratio.toFixed(2)} (${f0(wt.channelP99.median)} / ${f0(ws.channelP99.median)} ms) | ${ratio <= 0.5 ? 'met' : 'not met'} |`,
      );
    }
  }
  return rows.join('\n');
}

export function tablesMarkdown(data: LabData): string {
  const linkem = data.linkem as Record<string, { maxLateUs: number; gsoFrames: number }> | null;
  const late = linkem ? Math.max(...Object.values(linkem).map((d) => d.maxLateUs)) / 1000 : Number.NaN;
  const gso = linkem ? Object.values(linkem).reduce((a, d) => a + d.gsoFrames, 0) : Number.NaN;
  const measured = (s: Summary | undefined) =>
    s?.measuredLoss ? `${pct(s.measuredLoss.upstream)} up / ${pct(s.measuredLoss.downstream)} down` : '–';
  const lossRows = lossesOf(data)
    .map(
      (loss) =>
        `${loss} %: ${measured(findSummary(data.summaries, data.variants[0] ?? 'bulk', 'websocket', loss))}`,
    )
    .join('; ');
  return [
    `Data: \`docs/head-of-line/runs.json.gz\` (raw samples) and \`summary.json\` (per-run metrics) (${data.runs.length} runs, ${data.createdAt.slice(0, 10)}, lab time ${(data.elapsedMs / 60_000).toFixed(1)} min). Path: ${data.path.oneWayDelayMs} ms each way (RTT ${data.path.oneWayDelayMs * 2} ms), ${data.path.rateMbit} Mbit/s each way with a ${data.path.queueKb} KB drop-tail queue, TCP congestion control ${data.path.tcpCongestionControl}; Chromium ${data.machine.chromium}; ${data.machine.cpus} shared cores. Workload: ${data.workload.channels} channels × ${1000 / data.workload.intervalMs} Hz for ${data.workload.durationMs / 1000} s; bulk: ${data.workload.bulkChunkBytes / 1024} KiB chunks, ${data.workload.bulkWindow} unacknowledged at a time. Medians over ${data.summaries[0]?.runs ?? 0} runs, (min–max) across runs. Loss measured by the nftables counters (WebSocket runs): ${lossRows}. The delay forwarder held frames at most ${f1(late)} ms longer than asked; GSO super-packets seen: ${gso}.`,
    ...(data.reruns ?? []).map(
      (r) =>
        `Re-measured ${r.createdAt.slice(0, 16).replace('T', ' ')}Z at commit ${r.commit} (\`run.ts --replace\`, ${(r.elapsedMs / 60_000).toFixed(1)} min): ${r.scenarios.map((s) => SCENARIO_LABELS[s] ?? s).join(', ')}; these rows come from that later run, the others from the main run.`,
    ),
    '',
    ...data.variants.flatMap((variant) => [
      `**Small channels ${VARIANT_LABELS[variant] ?? variant}**`,
      '',
      table(data, variant),
      '',
    ]),
    '**The target** (per-channel p99 over WebTransport streams ≤ 0.5 × that of WebSocket):',
    '',
    ratios(data),
  ].join('\n');
}

function main(): void {
  const file = process.argv[2] ?? join(OUT, 'runs.json.gz');
  const data = readLabData(file);
  writeFileSync(join(OUT, 'latency.svg'), latencyChart(data));
  const lines = ['websocket', 'wt-streams', 'wt-datagrams'].filter((s) => scenariosOf(data).includes(s));
  const quiet = timelineChart(data, 'quiet', 2, lines);
  if (quiet) writeFileSync(join(OUT, 'timeline.svg'), quiet);
  const bulk = timelineChart(
    data,
    'bulk',
    2,
    ['websocket', 'wt-streams', 'wt-one-stream'].filter((s) => scenariosOf(data).includes(s)),
  );
  if (bulk) writeFileSync(join(OUT, 'timeline-bulk.svg'), bulk);
  const doc = readFileSync(DOC, 'utf8');
  const start = '<!-- hol:tables:start (generated by bench/hol/charts.ts) -->';
  const end = '<!-- hol:tables:end -->';
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${DOC} lacks the ${start} ... ${end} markers`);
  writeFileSync(DOC, `${doc.slice(0, a + start.length)}\n${tablesMarkdown(data)}\n${doc.slice(b)}`);
  console.log(`charts and tables written from ${file}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
