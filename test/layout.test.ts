/**
 * The tree's own rules, checked on every run so they cannot drift: no source file under src/, transports/ or
 * server/ over 400 lines (tests aside), every module opens with a header comment, and no runtime import cycle
 * between source files (type-only imports are erased and may point anywhere).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MAX_LINES = 400;

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !/\.test\.ts$|\.d\.ts$/.test(e.name))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

const files = ['src', 'transports', 'server'].flatMap(sources);

/** Relative imports and re-exports that exist at run time (not `import type`, not all-`type` braces). */
function runtimeImports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+([^;]*?)\s*from\s+'(\.[^']+)'/gm)) {
    const clause = m[1]!;
    if (/^type\s/.test(clause)) continue;
    const braces = /^\{([\s\S]*)\}$/.exec(clause.trim());
    if (braces) {
      const names = braces[1]!
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean);
      if (names.every((n) => n.startsWith('type '))) continue;
    }
    found.push(relative(root, resolve(root, dirname(file), m[2]!)));
  }
  for (const m of text.matchAll(/^import\s+'(\.[^']+)'/gm)) {
    found.push(relative(root, resolve(root, dirname(file), m[1]!)));
  }
  return found;
}

it(`no source file is over ${MAX_LINES} lines`, () => {
  const long = files
    .map((f) => [f, readFileSync(join(root, f), 'utf8').split('\n').length - 1] as const)
    .filter(([, lines]) => lines > MAX_LINES);
  expect(long).toEqual([]);
});

it('every source module starts with a header comment', () => {
  const bare = files.filter((f) => !/^(#![^\n]*\n)?\/\*\*?\s/.test(readFileSync(join(root, f), 'utf8')));
  expect(bare).toEqual([]);
});

it('no runtime import cycle between source files', () => {
  const graph = new Map(files.map((f) => [f, runtimeImports(f)]));
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next].join(' -> '));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (!state.has(file)) visit(file);
  expect(graph.size).toBeGreaterThan(50);
  expect(cycles).toEqual([]);
});
