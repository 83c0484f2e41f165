/**
 * The demo's unreliable-messages strip, added to each rung's panel: a cursor circles at 30 updates a second,
 * published with `{ reliable: false }` to a topic the same client follows, and the page draws where the sent
 * cursor is (ring) and where the last delivered update put it (dot), with sent / dropped / delivered counts. On
 * WebTransport the updates are datagrams; on WebSocket and SSE they ride the one ordered connection. Part of the
 * demo page bundle (./page.ts); `data-*` attributes let e2e tests read what a person sees.
 */
import type { Client } from '../../src/client/index.ts';
import type { TransportKind } from '../../src/transport.ts';

const SVG = 'http://www.w3.org/2000/svg';
const UPDATES_PER_SECOND = 30;

interface CursorUpdate {
  readonly v: number;
  readonly x: number;
  readonly y: number;
}

function circle(r: number, fill: string, stroke: string): SVGCircleElement {
  const c = document.createElementNS(SVG, 'circle');
  c.setAttribute('r', String(r));
  c.setAttribute('fill', fill);
  c.setAttribute('stroke', stroke);
  c.setAttribute('stroke-width', '2');
  return c;
}

export function attachCursor(client: Client<unknown>, root: HTMLElement, kind: TransportKind): void {
  const strip = document.createElement('div');
  strip.className = 'cursor';
  strip.dataset.cursorSent = '0';
  strip.dataset.cursorDelivered = '0';
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 200 70');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `unreliable cursor over ${kind}`);
  const sentMark = circle(7, 'none', '#a0aec0');
  const seenMark = circle(5, '#3182ce', '#3182ce');
  svg.append(sentMark, seenMark);
  const counts = document.createElement('div');
  counts.className = 'cursor-counts';
  strip.append(svg, counts);
  root.append(strip);

  const topic = `echo.cursor.${kind}.${Math.random().toString(36).slice(2, 10)}`;
  client.subscribe(topic);
  let version = 0;
  let newest = 0;
  let delivered = 0;
  const render = () => {
    const { volatileSent, volatileDropped } = client.stats;
    strip.dataset.cursorSent = String(volatileSent);
    strip.dataset.cursorDelivered = String(delivered);
    const share = volatileSent > 0 ? ((100 * delivered) / volatileSent).toFixed(1) : '0.0';
    counts.textContent = `cursor (unreliable): sent ${volatileSent}, dropped before sending ${volatileDropped}, delivered ${delivered} (${share} %)`;
  };
  client.on('message', (m) => {
    if (m.topic !== topic || m.reliable) return;
    const update = m.data as CursorUpdate;
    delivered++;
    // Datagrams may arrive out of order: an older position never moves the dot back.
    if (update.v <= newest) return;
    newest = update.v;
    seenMark.setAttribute('cx', update.x.toFixed(1));
    seenMark.setAttribute('cy', update.y.toFixed(1));
  });
  setInterval(() => {
    if (client.state !== 'connected') return;
    version++;
    const angle = version / 12;
    const update: CursorUpdate = { v: version, x: 100 + 80 * Math.cos(angle), y: 35 + 25 * Math.sin(angle) };
    sentMark.setAttribute('cx', update.x.toFixed(1));
    sentMark.setAttribute('cy', update.y.toFixed(1));
    void client.publish(topic, update, { reliable: false });
  }, 1000 / UPDATES_PER_SECOND);
  setInterval(render, 250);
}
