/**
 * The demo page's behaviour (bundled for the browser by ./bundle.ts): one panel per offered rung, each
 * with its own client pinned to that rung. Panels expose `data-*` attributes so e2e tests read what a
 * person sees.
 */
import { createClient } from '../../src/client/index.ts';
import { parseNegotiateResponse } from '../../src/negotiate.ts';
import type { TransportKind } from '../../src/transport.ts';
import { browserTransports } from '../../transports/index.browser.ts';
import { attachCursor } from './cursor-panel.ts';
import { mountHolPanel } from './hol-panel.ts';
import { attachPresence } from './presence-panel.ts';

const LABELS: Record<TransportKind, string> = {
  webtransport: 'WebTransport (HTTP/3)',
  websocket: 'WebSocket',
  sse: 'SSE + POST',
};

interface EchoPayload {
  n: number;
  sentAt: number;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.textContent = text;
  return node;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Like a real app: a fresh short-lived token per connection attempt, from an endpoint of our own origin. */
async function fetchToken(tokenUrl: string): Promise<string> {
  const response = await fetch(tokenUrl, { method: 'POST' });
  if (!response.ok) throw new Error(`token endpoint answered ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

function panel(kind: TransportKind, container: HTMLElement, tokenUrl: string | undefined): void {
  const root = element('section');
  root.className = 'rung';
  root.dataset.kind = kind;
  root.dataset.state = 'connecting';
  root.dataset.echoes = '0';
  root.dataset.ticks = '0';
  const title = element('h2', LABELS[kind]);
  const state = element('span', 'connecting');
  state.className = 'state';
  title.append(state);
  const stats = element('dl');
  const fields = new Map<string, HTMLElement>();
  for (const name of ['last round trip', 'median (last 20)', 'echoes', 'ticker', 'close']) {
    const value = element('dd', '–');
    fields.set(name, value);
    stats.append(element('dt', name), value);
  }
  const button = element('button', 'send echo');
  button.disabled = true;
  const caps = element('div');
  caps.className = 'caps';
  root.append(title, stats, button, caps);
  container.append(root);

  const client = createClient<unknown>({
    url: location.origin,
    transports: browserTransports,
    order: [kind],
    rememberRung: false,
    climb: false,
    ...(tokenUrl ? { token: () => fetchToken(tokenUrl) } : {}),
  });
  const topic = `echo.${kind}.${Math.random().toString(36).slice(2, 10)}`;
  client.subscribe(topic);
  client.subscribe('ticker');
  const rtts: number[] = [];
  let n = 0;
  let echoes = 0;

  client.on('state', (s) => {
    root.dataset.state = s;
    state.textContent = s;
    button.disabled = s !== 'connected';
    const info = client.closeInfo;
    if (info) fields.get('close')!.textContent = `${info.code} ${info.name}`;
  });
  client.on('rung', () => {
    caps.textContent = `rung in use: ${client.rung ?? 'none'}`;
  });
  client.on('message', (m) => {
    if (m.topic === 'ticker') {
      const tick = (m.data as { tick: number }).tick;
      root.dataset.ticks = String(Number(root.dataset.ticks) + 1);
      fields.get('ticker')!.textContent = `#${tick} (${root.dataset.ticks} received)`;
      return;
    }
    if (m.topic !== topic) return;
    const payload = m.data as EchoPayload;
    const rtt = performance.now() - payload.sentAt;
    rtts.push(rtt);
    if (rtts.length > 20) rtts.shift();
    echoes++;
    root.dataset.echoes = String(echoes);
    root.dataset.rtt = rtt.toFixed(2);
    fields.get('last round trip')!.textContent = `${rtt.toFixed(2)} ms`;
    fields.get('median (last 20)')!.textContent = `${median(rtts).toFixed(2)} ms`;
    fields.get('echoes')!.textContent = String(echoes);
  });
  client.on('error', (error) => {
    caps.textContent = `error: ${error.message}`;
  });
  const sendEcho = () => {
    if (client.state !== 'connected') return;
    const payload: EchoPayload = { n: ++n, sentAt: performance.now() };
    client.publish(topic, payload).catch(() => {});
  };
  button.addEventListener('click', sendEcho);
  setInterval(sendEcho, 1000);
  attachCursor(client, root, kind);
  attachPresence(client, root, kind);
}

async function main(): Promise<void> {
  const container = document.getElementById('rungs')!;
  const response = await fetch('/rt/negotiate');
  const offer = parseNegotiateResponse(await response.json(), response.url);
  for (const transport of offer.transports) {
    if (browserTransports[transport.kind]) panel(transport.kind, container, offer.tokenUrl);
  }
  mountHolPanel(document.body, offer);
  document.body.dataset.ready = 'true';
}

void main();
