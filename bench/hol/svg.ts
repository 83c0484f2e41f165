/**
 * Just enough SVG for the lab's charts: scales (linear and log), axes with ticks, polylines, dots and text,
 * written as plain markup so the charts read without JavaScript and diff as text. Kept apart from what is
 * drawn (./charts.ts) so the chart code reads as a description of the charts.
 */

export const PALETTE: Record<string, string> = {
  websocket: '#c53030',
  sse: '#dd6b20',
  'wt-streams': '#2b6cb0',
  'wt-one-stream': '#805ad5',
  'wt-datagrams': '#2f855a',
};

export const CHANNEL_COLORS = [
  '#2b6cb0',
  '#c05621',
  '#2f855a',
  '#b83280',
  '#6b46c1',
  '#b7791f',
  '#2c7a7b',
  '#9b2c2c',
];

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export interface Scale {
  (value: number): number;
  readonly ticks: readonly number[];
}

export function linearScale(domain: [number, number], range: [number, number], ticks: number[]): Scale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const f = (v: number) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);
  return Object.assign(f, { ticks });
}

export function logScale(domain: [number, number], range: [number, number]): Scale {
  const [d0, d1] = domain.map(Math.log10) as [number, number];
  const [r0, r1] = range;
  const f = (v: number) => r0 + ((Math.log10(Math.max(v, 10 ** d0)) - d0) / (d1 - d0)) * (r1 - r0);
  const ticks: number[] = [];
  for (let e = Math.ceil(d0); e <= Math.floor(d1); e++) ticks.push(10 ** e);
  return Object.assign(f, { ticks });
}

export const fmtMs = (ms: number) => (ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`);

export class Svg {
  readonly #parts: string[] = [];
  constructor(
    readonly width: number,
    readonly height: number,
    readonly title: string,
  ) {}

  text(x: number, y: number, text: string, attrs = ''): this {
    this.#parts.push(`<text x="${r(x)}" y="${r(y)}" ${attrs}>${escapeXml(text)}</text>`);
    return this;
  }

  line(x1: number, y1: number, x2: number, y2: number, attrs = 'stroke="#cbd5e0"'): this {
    this.#parts.push(`<line x1="${r(x1)}" y1="${r(y1)}" x2="${r(x2)}" y2="${r(y2)}" ${attrs}/>`);
    return this;
  }

  rect(x: number, y: number, w: number, h: number, attrs: string): this {
    this.#parts.push(`<rect x="${r(x)}" y="${r(y)}" width="${r(w)}" height="${r(h)}" ${attrs}/>`);
    return this;
  }

  polyline(points: readonly [number, number][], attrs: string): this {
    if (points.length === 0) return this;
    const d = points.map(([x, y]) => `${r(x)},${r(y)}`).join(' ');
    this.#parts.push(`<polyline fill="none" points="${d}" ${attrs}/>`);
    return this;
  }

  /** Many small squares in one path: compact for thousands of dots. */
  dots(points: readonly [number, number][], size: number, fill: string): this {
    if (points.length === 0) return this;
    const h = size / 2;
    const d = points.map(([x, y]) => `M${r(x - h)} ${r(y - h)}h${size}v${size}h-${size}z`).join('');
    this.#parts.push(`<path d="${d}" fill="${fill}"/>`);
    return this;
  }

  /** A frame with x and y axes, gridlines at the scales' ticks, and labels. */
  axes(
    box: { x: number; y: number; w: number; h: number },
    x: Scale,
    y: Scale,
    labels: {
      x: string;
      y: string;
      title?: string;
      xTick?: (v: number) => string;
      yTick?: (v: number) => string;
    },
  ): this {
    for (const t of x.ticks) {
      this.line(x(t), box.y, x(t), box.y + box.h, 'stroke="#edf2f7"');
      this.text(x(t), box.y + box.h + 14, (labels.xTick ?? String)(t), 'text-anchor="middle" class="tick"');
    }
    for (const t of y.ticks) {
      this.line(box.x, y(t), box.x + box.w, y(t), 'stroke="#edf2f7"');
      this.text(box.x - 5, y(t) + 4, (labels.yTick ?? String)(t), 'text-anchor="end" class="tick"');
    }
    this.rect(box.x, box.y, box.w, box.h, 'fill="none" stroke="#a0aec0"');
    this.text(box.x + box.w / 2, box.y + box.h + 30, labels.x, 'text-anchor="middle" class="label"');
    this.text(
      box.x - 38,
      box.y + box.h / 2,
      labels.y,
      `text-anchor="middle" class="label" transform="rotate(-90 ${r(box.x - 38)} ${r(box.y + box.h / 2)})"`,
    );
    if (labels.title)
      this.text(box.x + box.w / 2, box.y - 8, labels.title, 'text-anchor="middle" class="title"');
    return this;
  }

  legend(x: number, y: number, entries: readonly [string, string][]): this {
    let cx = x;
    for (const [color, label] of entries) {
      this.rect(cx, y - 9, 14, 10, `fill="${color}"`);
      this.text(cx + 19, y, label, 'class="legend"');
      cx += 30 + label.length * 7.2;
    }
    return this;
  }

  toString(): string {
    return [
      `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${this.width} ${this.height}" width="${this.width}" height="${this.height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">`,
      `<title>${escapeXml(this.title)}</title>`,
      '<style>.tick{font-size:10px;fill:#4a5568}.label{font-size:11px;fill:#2d3748}.title{font-size:13px;font-weight:600;fill:#1a202c}.legend{font-size:12px;fill:#2d3748}.note{font-size:11px;fill:#4a5568}</style>',
      `<rect width="${this.width}" height="${this.height}" fill="#ffffff"/>`,
      ...this.#parts,
      '</svg>',
      '',
    ].join('\n');
  }
}

function r(n: number): string {
  return (Math.round(n * 10) / 10).toString();
}
