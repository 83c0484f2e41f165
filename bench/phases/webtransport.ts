/**
 * Memory per idle WebTransport session over native HTTP/3: the only runtime here that serves it is Deno
 * (Node's HTTP/3 binding cannot install on these machines, DESIGN.md), so the server is
 * bench/servers/wt.deno.ts and the sessions come from Deno's own WebTransport client (bench/clients/wt.deno.ts).
 * Deno's heap and RSS are not Node's: compare these rows with each other, not with the Node rows.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DENO_RUN, denoBinary } from '../../server/deno/launch.ts';
import { sleep } from '../lib/procs.ts';
import type { MemoryReading } from '../servers/control.ts';
import { describeMemory, type MemoryResult, type MemorySystem, perConn } from './memory.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const WT_SYSTEMS: readonly MemorySystem[] = [
  { id: 'wt-raw-idle', label: 'Deno WebTransport session alone (HTTP/3, no switchyard)', server: 'deno-wt' },
  { id: 'wt-idle', label: 'our WebTransport rung (Deno, HTTP/3), bare', server: 'deno-wt' },
  { id: 'wt-hello-idle', label: 'our WebTransport rung + protocol (Deno), after hello', server: 'deno-wt' },
];

interface Lines {
  readonly child: ChildProcess;
  next(match: (value: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

function lines(child: ChildProcess, name: string, onLine?: (value: Record<string, unknown>) => void): Lines {
  const rl: Interface = createInterface({ input: child.stdout! });
  const waiting: {
    match: (v: Record<string, unknown>) => boolean;
    resolve: (v: Record<string, unknown>) => void;
    reject: (e: Error) => void;
  }[] = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  const rejectAll = (why: string) => {
    for (const w of waiting.splice(0)) w.reject(new Error(why));
  };
  child.on('exit', (code) => rejectAll(`${name} exited with ${code}: ${stderr}`));
  rl.on('line', (line) => {
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    onLine?.(value);
    const index = waiting.findIndex((w) => w.match(value));
    if (index >= 0) waiting.splice(index, 1)[0]!.resolve(value);
  });
  return {
    child,
    next: (match) =>
      new Promise((resolve, reject) => {
        waiting.push({ match, resolve, reject });
      }),
  };
}

/** Server mode (bench/servers/wt.deno.ts) and client mode (bench/clients/wt.deno.ts) of each row. */
const MODES: Partial<Record<MemorySystem['id'], { server: string; client: string }>> = {
  'wt-raw-idle': { server: 'raw', client: 'raw' },
  'wt-idle': { server: 'rung', client: 'bare' },
  'wt-hello-idle': { server: 'protocol', client: 'hello' },
};

function denoMemory(value: Record<string, unknown>): MemoryReading {
  const m = value.mem as { rss: number; heapUsed: number; heapTotal: number; external: number };
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: 0 };
}

async function openSessions(
  url: string,
  hash: string,
  count: number,
  mode: string,
  progress?: (line: string) => void,
) {
  const deno = denoBinary()!;
  const child = spawn(deno, [...DENO_RUN, 'bench/clients/wt.deno.ts', url, hash, String(count), mode], {
    cwd: ROOT,
    env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out = lines(child, 'WebTransport client', (v) => {
    if (typeof v.progress === 'number' && v.progress % 1000 === 0)
      progress?.(`[memory] WebTransport: ${v.progress}/${count} open`);
  });
  await out.next((v) => typeof v.open === 'number');
  return {
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin?.end();
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

export async function runWebTransportMemory(
  conns: number,
  progress: (line: string) => void,
  settleMs = 500,
): Promise<MemoryResult[]> {
  const deno = denoBinary();
  if (!deno)
    throw new Error('the deno npm package is not installed: cannot measure WebTransport over HTTP/3');
  const results: MemoryResult[] = [];
  for (const system of WT_SYSTEMS) {
    const server = spawn(
      deno,
      [...DENO_RUN, '--v8-flags=--expose-gc', 'bench/servers/wt.deno.ts', MODES[system.id]!.server],
      { cwd: ROOT, env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    try {
      const out = lines(server, 'WebTransport server');
      const ready = await out.next((v) => typeof v.port === 'number');
      const url = `https://127.0.0.1:${ready.port as number}/rt/wt`;
      const hash = (ready.hash as { value: string }).value;
      const mode = MODES[system.id]!.client;
      const mem = async () => {
        server.stdin?.write('mem\n');
        return out.next((v) => v.mem !== undefined);
      };
      const warm = await openSessions(url, hash, 20, mode);
      await warm.close();
      await sleep(settleMs);
      const before = await mem();
      const sessions = await openSessions(url, hash, conns, mode, progress);
      await sleep(settleMs);
      const after = await mem();
      if ((after.ready as number) < conns)
        throw new Error(`only ${after.ready} of ${conns} WebTransport sessions ready`);
      await sessions.close();
      const result = perConn(system, conns, denoMemory(before), denoMemory(after));
      results.push(result);
      progress(`[memory] ${describeMemory(result)}`);
    } finally {
      server.kill('SIGTERM');
    }
  }
  return results;
}
