/**
 * What every server under test shares: it runs in its own process (forked by the orchestrator with
 * `--expose-gc`), announces its port over IPC, and answers the orchestrator's requests for memory after GC,
 * a heap snapshot, a CPU profile of a window, or a clean exit.
 */
import { writeFileSync } from 'node:fs';
import type { Session } from 'node:inspector';

export type ToServer =
  | { readonly type: 'mem' }
  | { readonly type: 'snapshot'; readonly path: string }
  | { readonly type: 'cpu-start' }
  | { readonly type: 'cpu-stop'; readonly path: string }
  | { readonly type: 'exit' };

export interface MemoryReading {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
  /**
   * Resident bytes of V8's young generation (its semi-spaces and young large objects), empty after the full GC but
   * still in RSS: how far it grew, not what is live. Node servers only.
   */
  readonly youngPhysical?: number;
}

/**
 * The inspector and `node:v8` are loaded on the orchestrator's first request for them, not at start: they are the
 * bench's instruments, not part of any server it measures, and loaded they added ~0.25 MB to the heap of every
 * server under test, which sits near V8's 8 MB line (docs/benchmarks.md, "twelfth round").
 */
const inspector = () => import('node:inspector');
const v8 = () => import('node:v8');

/** Physical (resident) size of the young generation's spaces. */
async function youngPhysical(): Promise<number> {
  const { getHeapSpaceStatistics } = await v8();
  let bytes = 0;
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name === 'new_space' || space.space_name === 'new_large_object_space')
      bytes += space.physical_space_size;
  }
  return bytes;
}

export type FromServer =
  | { readonly type: 'ready'; readonly port: number }
  | { readonly type: 'mem'; readonly memory: MemoryReading }
  | { readonly type: 'snapshot'; readonly path: string }
  | { readonly type: 'cpu-started' }
  | { readonly type: 'cpu-stopped'; readonly path: string };

const gc = (globalThis as { gc?: () => void }).gc;

/** Full collections until the heap stops shrinking, so what is left is what the connections retain. */
async function settle(): Promise<void> {
  if (!gc) throw new Error('server started without --expose-gc');
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 6; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const used = process.memoryUsage().heapUsed;
    if (used >= last - 1024) break;
    last = used;
  }
}

/**
 * Script id -> URL (and inline source map, where tsx left one) of every loaded script: a heap snapshot names
 * closures only by script id and position, and this is what turns that into `server/protocol/index.ts:212`.
 */
async function scripts(): Promise<Record<string, { url: string; sourceMapURL?: string }>> {
  const session = new (await inspector()).Session();
  session.connect();
  const out: Record<string, { url: string; sourceMapURL?: string }> = {};
  session.on('Debugger.scriptParsed', ({ params }) => {
    if (!params.url) return;
    out[params.scriptId] = {
      url: params.url,
      ...(params.sourceMapURL?.startsWith('data:') ? { sourceMapURL: params.sourceMapURL } : {}),
    };
  });
  await new Promise<void>((resolve, reject) =>
    session.post('Debugger.enable', (error) => (error ? reject(error) : resolve())),
  );
  session.post('Debugger.disable');
  session.disconnect();
  return out;
}

let profiler: Session | undefined;

function post(session: Session, method: string, params: object = {}): Promise<unknown> {
  return new Promise((resolve, reject) =>
    session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
  );
}

/**
 * CPU profile of the measured window only, through the inspector: `--cpu-prof` would cover start-up, and its
 * idle notifier marks samples taken inside I/O callbacks (libuv's poll phase, where every request is handled)
 * as `(idle)`, so a busy server's profile came out almost all idle.
 */
async function startProfile(): Promise<void> {
  profiler = new (await inspector()).Session();
  profiler.connect();
  await post(profiler, 'Profiler.enable');
  await post(profiler, 'Profiler.setSamplingInterval', { interval: 200 });
  await post(profiler, 'Profiler.start');
}

async function stopProfile(path: string): Promise<void> {
  if (!profiler) throw new Error('no profile running');
  const { profile } = (await post(profiler, 'Profiler.stop')) as { profile: unknown };
  profiler.disconnect();
  profiler = undefined;
  writeFileSync(path, JSON.stringify(profile));
  writeFileSync(`${path}.scripts.json`, JSON.stringify(await scripts()));
}

/**
 * `BENCH_APP_HEAP_MB=N`: the server holds N MB of ordinary objects for its whole life, as a real app does (its
 * own state, caches, sessions). V8 schedules full collections by the old generation's size, and the servers
 * under test rest at 5-9 MB, just around the size from which external (Buffer) memory churn starts incremental
 * marking (docs/benchmarks.md); with an app's heap every system is past it, so the large rows compare per-message
 * work rather than whose heap at rest happens to be under the line.
 */
const appHeap: unknown[] = [];
function holdAppHeap(megabytes: number): void {
  if (!(megabytes > 0)) return;
  // ~100 B per record (an object with a string and two numbers, in an array), promoted by the GCs below.
  for (let i = 0; i < megabytes * 10_000; i++) appHeap.push({ id: `record-${i}`, at: i, score: i / 3 });
  gc?.();
  gc?.();
}

export function serveControl(port: number): void {
  holdAppHeap(Number(process.env.BENCH_APP_HEAP_MB ?? 0));
  process.on('message', (message: ToServer) => {
    void (async () => {
      switch (message.type) {
        case 'mem': {
          // Loaded before the reading, so that every reading of a server includes it alike.
          await v8();
          await settle();
          const m = process.memoryUsage();
          process.send?.({
            type: 'mem',
            memory: {
              rss: m.rss,
              heapUsed: m.heapUsed,
              heapTotal: m.heapTotal,
              external: m.external,
              arrayBuffers: m.arrayBuffers,
              youngPhysical: await youngPhysical(),
            },
          } satisfies FromServer);
          return;
        }
        case 'snapshot':
          writeFileSync(`${message.path}.scripts.json`, JSON.stringify(await scripts()));
          await settle();
          (await v8()).writeHeapSnapshot(message.path);
          process.send?.({ type: 'snapshot', path: message.path } satisfies FromServer);
          return;
        case 'cpu-start':
          await startProfile();
          process.send?.({ type: 'cpu-started' } satisfies FromServer);
          return;
        case 'cpu-stop':
          await stopProfile(message.path);
          process.send?.({ type: 'cpu-stopped', path: message.path } satisfies FromServer);
          return;
        case 'exit':
          process.exit(0);
      }
    })();
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready', port } satisfies FromServer);
}
