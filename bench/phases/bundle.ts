/**
 * Browser bundle sizes, all with the same esbuild settings (bundle, minify, ESM, browser, es2022, code
 * splitting so a dynamic import becomes its own chunk) and gzip level 9. "Initial" is the entry chunk plus
 * the chunks it imports statically: what a page downloads before it can connect; "lazy" is the rest.
 */

import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface BundleEntry {
  readonly id: string;
  readonly label: string;
  readonly source: string;
}

/** What an app imports; each entry keeps what it uses alive (`export`), so nothing is shaken out unfairly. */
export const BUNDLE_ENTRIES: readonly BundleEntry[] = [
  {
    id: 'ours-ws-sse',
    label: 'switchyard client + WebSocket + SSE rungs (JSON codec)',
    source: `
      import { createClient } from 'switchyard/client';
      import { createWebSocketTransport } from 'switchyard/websocket';
      import { createSseTransport } from 'switchyard/sse';
      const withToken = (url, token) => { if (!token) return url; const u = new URL(url); u.searchParams.set('token', token); return u.href; };
      export const client = createClient({
        url: location.origin,
        transports: {
          websocket: ({ offer, token, ...o }) => createWebSocketTransport(o),
          sse: ({ offer, token, ...o }) => createSseTransport({ ...o, url: withToken(o.url, token) }),
        },
      });`,
  },
  {
    id: 'ours-all',
    label: 'switchyard client + all three rungs (browserTransports)',
    source: `
      import { createClient } from 'switchyard/client';
      import { browserTransports } from 'switchyard/transports/browser';
      export const client = createClient({ url: location.origin, transports: browserTransports });`,
  },
  {
    id: 'socket.io-client',
    label: 'socket.io-client 4.8',
    source: `import { io } from 'socket.io-client'; export const socket = io();`,
  },
  {
    id: 'partysocket',
    label: 'partysocket 1.3 (PartySocket)',
    source: `import PartySocket from 'partysocket'; export const socket = new PartySocket({ host: location.host, room: 'r' });`,
  },
];

export interface BundleResult {
  readonly id: string;
  readonly label: string;
  readonly initialMin: number;
  readonly initialGzip: number;
  readonly lazyGzip: number;
  readonly chunks: number;
}

const gzip = (bytes: Uint8Array) => gzipSync(bytes, { level: 9 }).byteLength;

export async function measureBundle(entry: BundleEntry): Promise<BundleResult> {
  const result = await build({
    stdin: { contents: entry.source, resolveDir: ROOT, loader: 'ts', sourcefile: `${entry.id}.ts` },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    // `switchyard/...` from the sources, as inside this repository (no build needed, never a stale dist/).
    conditions: ['switchyard-source'],
    target: 'es2022',
    splitting: true,
    outdir: '/bench-out',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const outputs = result.metafile.outputs;
  const entryPath = Object.keys(outputs).find((p) => outputs[p]!.entryPoint !== undefined);
  if (!entryPath) throw new Error(`${entry.id}: no entry chunk`);
  const initial = new Set<string>();
  const visit = (path: string) => {
    if (initial.has(path)) return;
    initial.add(path);
    for (const i of outputs[path]?.imports ?? []) if (i.kind === 'import-statement') visit(i.path);
  };
  visit(entryPath);
  let initialMin = 0;
  let initialGzip = 0;
  let lazyGzip = 0;
  for (const file of result.outputFiles) {
    const path = Object.keys(outputs).find((p) => file.path.endsWith(p.replace(/^.*bench-out/, '')))!;
    if (initial.has(path)) {
      initialMin += file.contents.byteLength;
      initialGzip += gzip(file.contents);
    } else lazyGzip += gzip(file.contents);
  }
  return {
    id: entry.id,
    label: entry.label,
    initialMin,
    initialGzip,
    lazyGzip,
    chunks: result.outputFiles.length,
  };
}

export async function runBundles(progress: (line: string) => void): Promise<BundleResult[]> {
  const results: BundleResult[] = [];
  for (const entry of BUNDLE_ENTRIES) {
    const r = await measureBundle(entry);
    results.push(r);
    progress(
      `[bundle] ${r.label}: ${(r.initialGzip / 1000).toFixed(1)} KB min+gzip initial (${(r.initialMin / 1000).toFixed(1)} KB min), ${(r.lazyGzip / 1000).toFixed(1)} KB lazy`,
    );
  }
  return results;
}
