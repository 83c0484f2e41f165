/** Writes generated markdown into docs/benchmarks.md between `<!-- NAME:begin -->` and `<!-- NAME:end -->`. */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const BENCHMARKS_DOC = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));

/** Replaces the marked section (appends it when the markers are missing); returns the file's path. */
export function writeGenerated(name: string, markdown: string, file = BENCHMARKS_DOC): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const doc = readFileSync(file, 'utf8');
  const body = `${begin}\n${markdown}\n${end}`;
  const from = doc.indexOf(begin);
  const to = doc.indexOf(end);
  writeFileSync(
    file,
    from >= 0 && to > from ? doc.slice(0, from) + body + doc.slice(to + end.length) : `${doc}\n${body}\n`,
  );
  return file;
}
