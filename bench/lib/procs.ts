/**
 * The processes of a bench run: servers under test (each alone in its process, forked with `--expose-gc`)
 * and load workers, both spoken to over fork IPC; CPU time read from /proc, outside the measured processes,
 * so asking costs them nothing.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { basename } from 'node:path';
import { buildSync } from 'esbuild';
import type { FromWorker, ToWorker } from '../clients/messages.ts';
import type { FromServer, MemoryReading, ToServer } from '../servers/control.ts';
import { cpuMicros, procStat } from './proc-stat.ts';

const BENCH = new URL('../', import.meta.url);

export { cpuMicros, procStat };

/**
 * glibc's allocator settings for every server under test, the baseline included. By default glibc adapts its
 * mmap and trim thresholds as the program frees large blocks, so whether a freed 256 KiB message buffer is
 * reused or handed back to the kernel (to be faulted in again, page by page, for the next message) depends on
 * when V8's GC happened to free it: on these VMs a page fault costs ~10 µs, and the same server's rate on the
 * same row moved 3x between rounds with 7-60 faults per message (docs/benchmarks.md, "Large messages"). Fixed
 * thresholds keep freed memory for reuse, alike for every system, so a row measures the servers' work;
 * `--malloc=default` (BENCH_MALLOC=default) runs with glibc's adaptive defaults instead.
 */
export const FIXED_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: String(32 << 20),
  MALLOC_TRIM_THRESHOLD_: String(256 << 20),
};

export function mallocMode(): 'fixed' | 'default' {
  return process.env.BENCH_MALLOC === 'default' ? 'default' : 'fixed';
}

/** Request/response over a child's IPC channel, in order; unsolicited messages go to `onOther`. */
class Channel<In extends { type: string }, Out> {
  readonly #child: ChildProcess;
  readonly #waiting: { type: string; resolve: (m: In) => void; reject: (e: Error) => void }[] = [];
  onOther: (message: In) => void = () => {};

  constructor(child: ChildProcess, name: string) {
    this.#child = child;
    child.on('message', (message: In) => {
      if (message.type === 'error') {
        this.#waiting.shift()?.reject(new Error(`${name}: ${(message as { message?: string }).message}`));
        return;
      }
      const index = this.#waiting.findIndex((w) => w.type === message.type);
      if (index < 0) {
        this.onOther(message);
        return;
      }
      this.#waiting.splice(index, 1)[0]!.resolve(message);
    });
    child.on('exit', (code, signal) => {
      for (const w of this.#waiting.splice(0)) w.reject(new Error(`${name} exited (${code ?? signal})`));
    });
  }

  request<T extends In['type']>(message: Out, reply: T): Promise<Extract<In, { type: T }>> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ type: reply, resolve: resolve as (m: In) => void, reject });
      this.#child.send(message as object);
    });
  }

  post(message: Out): void {
    this.#child.send(message as object);
  }
}

export type ServerName = 'ws' | 'ws-hono' | 'sio' | 'rung' | 'proto' | 'proto-m' | 'sse-raw';

const SERVER_SCRIPTS: Record<ServerName, [string, string[]]> = {
  ws: ['servers/raw-ws.ts', []],
  'ws-hono': ['servers/raw-ws-hono.ts', []],
  sio: ['servers/socketio.ts', []],
  rung: ['servers/rung.ts', []],
  proto: ['servers/ours.ts', []],
  'proto-m': ['servers/ours-metrics.ts', []],
  'sse-raw': ['servers/sse-raw.ts', []],
};

/**
 * Servers under test run as built JavaScript, the way they are deployed, not through the tsx loader the bench
 * itself uses: tsx keeps every loaded file's source and source map on the heap (1.6-1.7 MB for raw `ws`,
 * 1.8-2.6 MB for ours, measured after GC at rest), and a server whose old generation passes V8's 8 MB
 * incremental-marking threshold runs a full mark-sweep every ~50 ms under a 64 KiB load where one just under it
 * runs none (docs/benchmarks.md, "Large messages"). Every system is built the same way: one ESM bundle of the server
 * script and its local imports, packages left as imports from node_modules. `BENCH_SERVERS=source` runs the
 * TypeScript through tsx as before (profiles use it: their source maps come from tsx).
 */
const fromSource = () => process.env.BENCH_SERVERS === 'source';
const builtScripts = new Map<string, string>();

function runnable(script: string): { path: string; loader: string[] } {
  const source = new URL(script, BENCH).pathname;
  if (fromSource()) return { path: source, loader: ['--import', 'tsx'] };
  let path = builtScripts.get(script);
  if (!path) {
    path = new URL(`.build/${basename(script, '.ts')}.mjs`, BENCH).pathname;
    buildSync({
      entryPoints: [source],
      outfile: path,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      logLevel: 'warning',
    });
    builtScripts.set(script, path);
  }
  return { path, loader: [] };
}

/** How a server under test is started (built script, loader flags, argv), for tools that fork it themselves. */
export function serverCommand(name: ServerName): { path: string; loader: string[]; args: string[] } {
  const [script, args] = SERVER_SCRIPTS[name];
  return { ...runnable(script), args };
}

export class ServerProc {
  readonly name: ServerName;
  readonly port: number;
  readonly child: ChildProcess;
  readonly #channel: Channel<FromServer, ToServer>;

  private constructor(
    name: ServerName,
    port: number,
    child: ChildProcess,
    channel: Channel<FromServer, ToServer>,
  ) {
    this.name = name;
    this.port = port;
    this.child = child;
    this.#channel = channel;
  }

  /**
   * `extraArgv` e.g. `--cpu-prof` flags for the profile mode; `malloc` 'default' for measurements of resident
   * memory (fixed thresholds keep freed memory in the process, which would flatter RSS per connection);
   * `appHeapMb` MB of app state held by the server (over `BENCH_APP_HEAP_MB`, which `--app-heap` sets).
   */
  static async start(
    name: ServerName,
    extraArgv: string[] = [],
    malloc: 'fixed' | 'default' = mallocMode(),
    appHeapMb?: number,
  ): Promise<ServerProc> {
    const [script, args] = SERVER_SCRIPTS[name];
    const { path, loader } = runnable(script);
    const child = fork(path, args, {
      execArgv: [
        ...loader,
        '--expose-gc',
        ...extraArgv,
        ...(process.env.BENCH_SERVER_FLAGS?.split(' ').filter(Boolean) ?? []),
      ],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: {
        ...process.env,
        ...(malloc === 'fixed' ? FIXED_MALLOC_ENV : {}),
        ...(appHeapMb === undefined ? {} : { BENCH_APP_HEAP_MB: String(appHeapMb) }),
      },
    });
    const channel = new Channel<FromServer, ToServer>(child, `server ${name}`);
    const ready = await new Promise<FromServer>((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`server ${name} exited with ${code} before ready`)));
    });
    if (ready.type !== 'ready') throw new Error(`server ${name}: unexpected first message ${ready.type}`);
    return new ServerProc(name, ready.port, child, channel);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  cpu(): number {
    return cpuMicros(this.pid);
  }

  async memory(): Promise<MemoryReading> {
    return (await this.#channel.request({ type: 'mem' }, 'mem')).memory;
  }

  async startProfile(): Promise<void> {
    await this.#channel.request({ type: 'cpu-start' }, 'cpu-started');
  }

  async stopProfile(path: string): Promise<void> {
    await this.#channel.request({ type: 'cpu-stop', path }, 'cpu-stopped');
  }

  async snapshot(path: string): Promise<void> {
    await this.#channel.request({ type: 'snapshot', path }, 'snapshot');
  }

  /** Asks for a clean exit (so `--cpu-prof` writes its file); kills it if it does not go within 10 s. */
  stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const force = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      this.child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      this.#channel.post({ type: 'exit' });
    });
  }
}

export class WorkerProc {
  readonly child: ChildProcess;
  readonly #channel: Channel<FromWorker, ToWorker>;

  constructor() {
    this.child = fork(new URL('clients/worker.ts', BENCH).pathname, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#channel = new Channel<FromWorker, ToWorker>(this.child, 'load worker');
  }

  set onProgress(listener: (conns: number) => void) {
    this.#channel.onOther = (m) => {
      if (m.type === 'progress') listener(m.conns);
    };
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  cpu(): number {
    return cpuMicros(this.pid);
  }

  request<T extends FromWorker['type']>(
    message: ToWorker,
    reply: T,
  ): Promise<Extract<FromWorker, { type: T }>> {
    return this.#channel.request(message, reply);
  }

  post(message: ToWorker): void {
    this.#channel.post(message);
  }

  stop(): void {
    if (this.child.connected) this.post({ type: 'exit' });
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
