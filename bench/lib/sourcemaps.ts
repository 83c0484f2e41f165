/**
 * Turns a script id and a position in the running (tsx-transpiled) code into `file.ts:line`, from the script
 * list a server wrote beside its profile or snapshot (bench/servers/control.ts) and tsx's inline source maps.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';

type Scripts = Record<string, { url: string; sourceMapURL?: string }>;

const ROOT = new URL('../../', import.meta.url);

/** Reads `${path}.scripts.json`; positions are 0-based as V8 reports them. */
export function locator(path: string): (scriptId: number, line: number, column: number) => string {
  const scripts: Scripts = existsSync(`${path}.scripts.json`)
    ? (JSON.parse(readFileSync(`${path}.scripts.json`, 'utf8')) as Scripts)
    : {};
  const maps = new Map<string, SourceMap | null>();
  return (scriptId, line, column) => {
    const script = scripts[String(scriptId)];
    if (!script) return '';
    let map = maps.get(script.url);
    if (map === undefined) {
      map = null;
      const data = script.sourceMapURL?.split(',')[1];
      if (data) {
        try {
          map = new SourceMap(JSON.parse(Buffer.from(data, 'base64').toString('utf8')));
        } catch {
          map = null;
        }
      }
      maps.set(script.url, map);
    }
    let where = script.url;
    let at = line + 1;
    const entry = map?.findEntry(line, column);
    if (entry && 'originalLine' in entry && entry.originalSource) {
      where = entry.originalSource;
      at = entry.originalLine + 1;
    }
    const nm = where.lastIndexOf('/node_modules/');
    const root = [ROOT.href, ROOT.pathname].find((r) => where.startsWith(r));
    const short = nm >= 0 ? where.slice(nm + 14) : root ? where.slice(root.length) : where;
    return `${short}:${at}`;
  };
}
