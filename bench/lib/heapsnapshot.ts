/**
 * Where the bytes of a connection go: two heap snapshots (before and after N idle connections) aggregated by
 * constructor (closures by function name, strings and arrays by kind), diffed and divided by N.
 */
import { readFileSync } from 'node:fs';
import { locator } from './sourcemaps.ts';

interface Snapshot {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: string[];
      readonly node_types: [string[]];
      readonly edge_fields: string[];
      readonly edge_types: [string[]];
      readonly location_fields?: string[];
    };
  };
  readonly nodes: number[];
  readonly edges: number[];
  readonly strings: string[];
  readonly locations?: number[];
}

export interface HeapGroup {
  readonly key: string;
  /** Objects of this kind added per connection. */
  readonly count: number;
  /** Their own (shallow) bytes per connection. */
  readonly bytes: number;
}

function keyOf(type: string, name: string, where: string): string {
  switch (type) {
    case 'object':
      return name;
    case 'closure':
      return `closure ${name || '(anonymous)'}${where ? ` ${where}` : ''}`;
    case 'string':
    case 'concatenated string':
    case 'sliced string':
      return '(strings)';
    case 'array':
      return `(array) ${name}`;
    case 'code':
      return '(compiled code)';
    case 'hidden':
      return `(hidden) ${name}`;
    case 'number':
      return '(heap numbers)';
    default:
      return `(${type}) ${name}`;
  }
}

export function aggregate(path: string): Map<string, { count: number; bytes: number }> {
  const snap = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const stride = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const out = new Map<string, { count: number; bytes: number }>();
  const { nodes, strings } = snap;
  const locate = locator(path);
  const where = new Map<number, string>();
  const locationFields = snap.snapshot.meta.location_fields ?? [];
  const locationStride = locationFields.length;
  const locations = snap.locations ?? [];
  for (let i = 0; locationStride > 0 && i < locations.length; i += locationStride) {
    where.set(locations[i]!, locate(locations[i + 1]!, locations[i + 2]!, locations[i + 3]!));
  }
  // Backing stores (property and element arrays, strings) say little by themselves: name them by their owner,
  // the first object that holds them (weak references aside), e.g. `(array) (object properties) of IncomingMessage`.
  const edgeStride = snap.snapshot.meta.edge_fields.length;
  const edgeToAt = snap.snapshot.meta.edge_fields.indexOf('to_node');
  const edgeTypeAt = snap.snapshot.meta.edge_fields.indexOf('type');
  const weak = snap.snapshot.meta.edge_types[0].indexOf('weak');
  const edgeCountAt = fields.indexOf('edge_count');
  const owner = new Int32Array(nodes.length / stride).fill(-1);
  for (let n = 0, e = 0; n < nodes.length; n += stride) {
    for (let k = nodes[n + edgeCountAt]!; k > 0; k--, e += edgeStride) {
      const to = snap.edges[e + edgeToAt]! / stride;
      if (snap.edges[e + edgeTypeAt] !== weak && owner[to] === -1) owner[to] = n;
    }
  }
  const plainKey = (i: number) =>
    keyOf(types[nodes[i + typeAt]!]!, strings[nodes[i + nameAt]!]!, where.get(i) ?? '');
  for (let i = 0; i < nodes.length; i += stride) {
    const type = types[nodes[i + typeAt]!]!;
    let key = plainKey(i);
    const by = owner[i / stride]!;
    if (by >= 0 && (type === 'array' || type === 'hidden' || key === '(strings)'))
      key = `${key} of ${plainKey(by)}`;
    const entry = out.get(key);
    if (entry) {
      entry.count++;
      entry.bytes += nodes[i + sizeAt]!;
    } else out.set(key, { count: 1, bytes: nodes[i + sizeAt]! });
  }
  return out;
}

/** Per-connection growth by kind, largest first; `total` is the net growth, `closures` every closure kind. */
export function diffPerConnection(
  before: string,
  after: string,
  conns: number,
  topN = 25,
): { total: number; groups: HeapGroup[]; closures: HeapGroup[] } {
  const a = aggregate(before);
  const b = aggregate(after);
  const groups: HeapGroup[] = [];
  for (const [key, { count, bytes }] of b) {
    const was = a.get(key) ?? { count: 0, bytes: 0 };
    groups.push({ key, count: (count - was.count) / conns, bytes: (bytes - was.bytes) / conns });
  }
  groups.sort((x, y) => y.bytes - x.bytes);
  const total = groups.reduce((n, g) => n + g.bytes, 0);
  const closures = groups.filter((g) => g.key.startsWith('closure ') && g.count >= 0.5);
  closures.sort((x, y) => y.count - x.count);
  return { total, groups: groups.filter((g) => g.bytes > 4 || g.count >= 0.5).slice(0, topN), closures };
}
