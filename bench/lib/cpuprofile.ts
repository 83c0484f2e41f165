/**
 * Reads a V8 `.cpuprofile` (what `node --cpu-prof` writes) into self time per function and per area
 * (our code, each dependency, Node internals, GC), which is what the profile tables report.
 */

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    functionName: string;
    scriptId: string;
    url: string;
    lineNumber: number;
    columnNumber: number;
  };
}

interface CpuProfile {
  readonly startTime: number;
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  readonly where: string;
  readonly area: string;
  readonly micros: number;
  /** Share of the busy (non-idle) time. */
  readonly share: number;
}

export interface ProfileSummary {
  readonly busyMicros: number;
  readonly idleMicros: number;
  readonly top: SelfTime[];
  readonly areas: { readonly area: string; readonly micros: number; readonly share: number }[];
}

const ROOT = new URL('../../', import.meta.url).href;

function shortUrl(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  if (url.startsWith(ROOT)) return url.slice(ROOT.length);
  return url.replace(/^file:\/\//, '');
}

export function areaOf(url: string, name: string): string {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(program)') return 'V8 / native (program)';
  const short = shortUrl(url);
  if (!short) return 'native / builtins';
  if (short.startsWith('node:')) return 'Node internals';
  for (const ours of ['src/', 'transports/', 'server/', 'bench/'])
    if (short.startsWith(ours)) return `ours: ${ours}`;
  const scoped = /^(@[^/]+\/[^/]+|[^/]+)\//.exec(short);
  return scoped ? `dependency: ${scoped[1]}` : short;
}

/**
 * `window` (monotonic µs, as measureWindow returns it) keeps only the samples taken under load: the
 * process's start-up (module loading, TypeScript transpiling) and shutdown are not what is being profiled.
 */
export function summarizeProfile(
  profile: CpuProfile,
  window?: readonly [number, number],
  locate?: (scriptId: number, line: number, column: number) => string,
  topN = 25,
): ProfileSummary {
  const byNode = new Map<number, number>();
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (window && (at < window[0] || at > window[1])) continue;
    const id = profile.samples[i]!;
    byNode.set(id, (byNode.get(id) ?? 0) + delta);
  }
  const byFunction = new Map<string, { name: string; where: string; area: string; micros: number }>();
  let idle = 0;
  let busy = 0;
  for (const node of profile.nodes) {
    const micros = byNode.get(node.id) ?? 0;
    if (micros === 0) continue;
    const { functionName, url, lineNumber, columnNumber, scriptId } = node.callFrame;
    if (functionName === '(idle)') {
      idle += micros;
      continue;
    }
    busy += micros;
    const name = functionName || '(anonymous)';
    const mapped = url.startsWith('file:') ? locate?.(Number(scriptId), lineNumber, columnNumber) : undefined;
    const where = mapped || (url ? `${shortUrl(url)}:${lineNumber + 1}` : '');
    const key = `${name}@${where}`;
    const entry = byFunction.get(key) ?? { name, where, area: areaOf(url, name), micros: 0 };
    entry.micros += micros;
    byFunction.set(key, entry);
  }
  const areas = new Map<string, number>();
  for (const f of byFunction.values()) areas.set(f.area, (areas.get(f.area) ?? 0) + f.micros);
  return {
    busyMicros: busy,
    idleMicros: idle,
    top: [...byFunction.values()]
      .sort((a, b) => b.micros - a.micros)
      .slice(0, topN)
      .map((f) => ({ ...f, share: f.micros / busy })),
    areas: [...areas.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([area, micros]) => ({ area, micros, share: micros / busy })),
  };
}
