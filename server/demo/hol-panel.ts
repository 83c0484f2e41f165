/**
 * The demo page's head-of-line panel: the lab's measured charts (served by ./hol-routes.ts from docs/), and
 * a live run of the lab's own workload (./hol-workload.ts) against this server on the rung the reader picks:
 * 8 channels at a steady rate beside a bulk transfer, each channel's latency drawn as its messages arrive.
 * Nothing here simulates loss: on the reader's own path (often loopback) the live run shows what that path
 * does, and the charts show what the lab measured under real packet loss. `window.switchyardHol` runs the same
 * workload for automation (e2e).
 */
import type { NegotiateResponse } from '../../src/negotiate.ts';
import { holMetrics } from './hol-metrics.ts';
import { HOL_SCENARIOS, type HolRunResult, type HolSample, runHolWorkload } from './hol-workload.ts';

const LABELS: Record<string, string> = {
  websocket: 'WebSocket (one TCP stream)',
  sse: 'SSE + POST',
  'wt-streams': 'WebTransport, a stream per channel',
  'wt-one-stream': 'WebTransport, one stream for everything',
  'wt-datagrams': 'WebTransport datagrams (latest value wins)',
};

/** Chart files the server publishes under /hol/charts/ (see ./hol-routes.ts). */
const CHARTS = [
  ['latency.svg', 'Latency of the small channels per scenario and loss rate (the lab, every run pooled)'],
  ['timeline.svg', 'One run per scenario at 2 % loss, small channels alone: every message by send time'],
  ['timeline-bulk.svg', 'The same beside the bulk upload: one ordered stream makes every channel wait'],
] as const;

const COLORS = ['#2b6cb0', '#c05621', '#2f855a', '#b83280', '#6b46c1', '#b7791f', '#2c7a7b', '#9b2c2c'];

const STYLE = `
  #hol { margin-top: 28px; background: #fff; border-radius: 10px; padding: 16px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
  #hol h2 { margin: 0 0 6px; font-size: 1.25rem; }
  #hol p { color: #4a5568; margin: 6px 0; max-width: 70em; }
  #hol .charts { display: grid; grid-template-columns: minmax(0, 1000px); gap: 16px; margin: 12px 0; }
  #hol figure { margin: 0; } #hol figure img { width: 100%; border: 1px solid #e2e8f0; border-radius: 6px; }
  #hol figcaption { font-size: .85rem; color: #718096; }
  #hol .controls { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin: 10px 0; }
  #hol select, #hol label { font: inherit; }
  #hol canvas { width: 100%; height: 260px; border: 1px solid #e2e8f0; border-radius: 6px; background: #fbfcfe; }
  #hol table { border-collapse: collapse; font-size: .9rem; margin-top: 8px; font-variant-numeric: tabular-nums; }
  #hol td, #hol th { padding: 3px 10px; border-bottom: 1px solid #edf2f7; text-align: right; }
  #hol td:first-child, #hol th:first-child { text-align: left; }
`;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.textContent = text;
  return node;
}

async function fetchToken(tokenUrl: string): Promise<string> {
  const response = await fetch(tokenUrl, { method: 'POST' });
  if (!response.ok) throw new Error(`token endpoint answered ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

/** Draws latency dots (x: send time, y: latency) as they arrive; the y scale grows with the worst seen. */
class LivePlot {
  readonly #canvas: HTMLCanvasElement;
  #samples: HolSample[] = [];
  #maxLatency = 50;
  #startMs = 0;
  #endMs = 1;

  constructor(canvas: HTMLCanvasElement) {
    this.#canvas = canvas;
  }

  reset(startMs: number, endMs: number): void {
    this.#samples = [];
    this.#maxLatency = 50;
    this.#startMs = startMs;
    this.#endMs = endMs;
    this.draw();
  }

  add(sample: HolSample): void {
    this.#samples.push(sample);
    const latency = sample[3] - sample[2];
    if (latency > this.#maxLatency) {
      this.#maxLatency = latency * 1.2;
      this.draw();
    } else this.#dot(sample);
  }

  draw(): void {
    const canvas = this.#canvas;
    canvas.width = canvas.clientWidth * devicePixelRatio;
    canvas.height = canvas.clientHeight * devicePixelRatio;
    const g = canvas.getContext('2d');
    if (!g) return;
    g.clearRect(0, 0, canvas.width, canvas.height);
    g.fillStyle = '#718096';
    g.font = `${11 * devicePixelRatio}px system-ui`;
    for (const fraction of [0, 0.25, 0.5, 0.75, 1]) {
      const y = this.#y(this.#maxLatency * fraction);
      g.fillRect(40 * devicePixelRatio, y, canvas.width, 1);
      g.fillText(`${Math.round(this.#maxLatency * fraction)} ms`, 2, y - 2);
    }
    for (const s of this.#samples) this.#dot(s);
  }

  #y(latency: number): number {
    const h = this.#canvas.height;
    return h - 6 - (latency / this.#maxLatency) * (h - 18 * devicePixelRatio);
  }

  #dot(s: HolSample): void {
    const g = this.#canvas.getContext('2d');
    if (!g) return;
    const left = 44 * devicePixelRatio;
    const x =
      left + ((s[2] - this.#startMs) / (this.#endMs - this.#startMs)) * (this.#canvas.width - left - 4);
    g.fillStyle = COLORS[s[0] % COLORS.length] as string;
    g.fillRect(x - 1.5, this.#y(s[3] - s[2]) - 1.5, 3 * devicePixelRatio, 3 * devicePixelRatio);
  }
}

export function mountHolPanel(parent: HTMLElement, offer: NegotiateResponse): void {
  const style = el('style', STYLE);
  document.head.append(style);
  const root = el('section');
  root.id = 'hol';
  root.dataset.state = 'idle';
  root.append(
    el('h2', 'Head-of-line blocking'),
    el(
      'p',
      'Eight channels send small messages 20 times a second while a ninth uploads a large file. Over one ordered stream (WebSocket, SSE, or WebTransport with one stream for everything) every small message waits behind the bulk bytes sent before it and behind any lost packet; over a stream per channel or as datagrams it does not. The charts are the lab’s measurements under real packet loss (npm run lab:hol); the live run below uses your own path to this server, with no loss added.',
    ),
  );
  const charts = el('div');
  charts.className = 'charts';
  for (const [file, caption] of CHARTS) {
    const figure = el('figure');
    const img = el('img');
    img.src = `/hol/charts/${file}`;
    img.alt = caption;
    img.loading = 'lazy';
    figure.append(img, el('figcaption', caption));
    charts.append(figure);
  }
  const offered = new Set(offer.transports.map((t) => t.kind));
  const controls = el('div');
  controls.className = 'controls';
  const select = el('select');
  for (const scenario of HOL_SCENARIOS) {
    const option = el('option', LABELS[scenario.id] ?? scenario.id);
    option.value = scenario.id;
    option.disabled = !offered.has(scenario.kind);
    select.append(option);
  }
  const bulkToggle = el('input');
  bulkToggle.type = 'checkbox';
  bulkToggle.checked = true;
  const bulkLabel = el('label');
  bulkLabel.append(bulkToggle, document.createTextNode(' bulk upload alongside'));
  const button = el('button', 'run live (10 s)');
  const status = el('span', '');
  controls.append(select, bulkLabel, button, status);
  const canvas = el('canvas');
  const plot = new LivePlot(canvas);
  const table = el('table');
  const head = el('tr');
  for (const h of [
    'scenario',
    'rung',
    'p50 ms',
    'p99 ms',
    'max ms',
    'stall ms',
    'delivered',
    'bulk Mbit/s',
  ]) {
    head.append(el('th', h));
  }
  table.append(head);
  root.append(charts, controls, canvas, table);
  parent.append(root);

  const token = offer.tokenUrl ? () => fetchToken(offer.tokenUrl as string) : undefined;
  const run = async (scenarioId: string, workload: Parameters<typeof runHolWorkload>[0]['workload'] = {}) => {
    const scenario = HOL_SCENARIOS.find((s) => s.id === scenarioId);
    if (!scenario) throw new Error(`unknown scenario ${scenarioId}`);
    return runHolWorkload({ scenario, workload, ...(token ? { token } : {}) });
  };
  // Automation hook: the same workload without the drawing.
  (window as unknown as { switchyardHol: { run: typeof run } }).switchyardHol = { run };

  button.addEventListener('click', async () => {
    const scenario = HOL_SCENARIOS.find((s) => s.id === select.value);
    if (!scenario) return;
    button.disabled = true;
    root.dataset.state = 'running';
    status.textContent = `running ${LABELS[scenario.id]}…`;
    // Loopback has no link limit: the bulk channel is paced to ~26 Mbit/s so it stays under the message rate limit.
    const workload = { durationMs: 10_000, warmupMs: 1000, bulkWindow: bulkToggle.checked ? 2 : 0 };
    plot.reset(workload.warmupMs, workload.warmupMs + workload.durationMs);
    try {
      const result = await runHolWorkload({
        scenario,
        workload,
        ...(token ? { token } : {}),
        onSample: (s) => plot.add(s),
      });
      addRow(table, result);
      status.textContent = 'done';
      root.dataset.state = 'done';
    } catch (error) {
      status.textContent = `failed: ${(error as Error).message}`;
      root.dataset.state = 'failed';
    } finally {
      button.disabled = false;
    }
  });
  plot.draw();
}

function addRow(table: HTMLTableElement, result: HolRunResult): void {
  const m = holMetrics(result);
  const row = el('tr');
  row.dataset.scenario = result.scenario;
  const cells = [
    LABELS[result.scenario] ?? result.scenario,
    result.rung ?? '–',
    m.p50.toFixed(1),
    m.p99.toFixed(1),
    m.max.toFixed(1),
    m.stallMax.toFixed(0),
    `${(m.delivered * 100).toFixed(1)} %`,
    result.bulk.chunks === 0 ? '–' : m.bulkMbps.toFixed(1),
  ];
  for (const text of cells) row.append(el('td', text));
  table.append(row);
}
