/**
 * Where the bytes of a connection go: two heap snapshots (before and after N idle connections) aggregated by
 * constructor (closures by function name, strings and arrays by kind), diffed and divided by N.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: string[]; readonly node_types: [string[]] } };
  readonly nodes: number[];
  readonly strings: string[];
}

export interface HeapGroup {
  readonly key: string;
  /** Objects of this kind added per connection. */
  readonly count: number;
  /** Their own (shallow) bytes per connection. */
  readonly bytes: number;
}

function keyOf(type: string, name: string): string {
  switch (type) {
    case 'object':
      return name;
    case 'closure':
      return `closure ${name || '(anonymous)'}`;
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
  for (let i = 0; i < nodes.length; i += stride) {
    const key = keyOf(types[nodes[i + typeAt]!]!, strings[nodes[i + nameAt]!]!);
    const entry = out.get(key);
    if (entry) {
      entry.count++;
      entry.bytes += nodes[i + sizeAt]!;
    } else out.set(key, { count: 1, bytes: nodes[i + sizeAt]! });
  }
  return out;
}

/** Per-connection growth by kind, largest first; `total` sums every kind that grew. */
export function diffPerConnection(
  before: string,
  after: string,
  conns: number,
  topN = 25,
): { total: number; groups: HeapGroup[] } {
  const a = aggregate(before);
  const b = aggregate(after);
  const groups: HeapGroup[] = [];
  for (const [key, { count, bytes }] of b) {
    const was = a.get(key) ?? { count: 0, bytes: 0 };
    groups.push({ key, count: (count - was.count) / conns, bytes: (bytes - was.bytes) / conns });
  }
  groups.sort((x, y) => y.bytes - x.bytes);
  const total = groups.reduce((n, g) => n + g.bytes, 0);
  return { total, groups: groups.filter((g) => g.bytes > 4 || g.count >= 0.5).slice(0, topN) };
}
