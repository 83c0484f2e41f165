/**
 * What every server under test shares: it runs in its own process (forked by the orchestrator with
 * `--expose-gc`), announces its port over IPC, and answers the orchestrator's requests for memory after GC,
 * a heap snapshot, or a clean exit (which is when `--cpu-prof` writes its profile).
 */
import { writeHeapSnapshot } from 'node:v8';

export type ToServer =
  | { readonly type: 'mem' }
  | { readonly type: 'snapshot'; readonly path: string }
  | { readonly type: 'exit' };

export interface MemoryReading {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

export type FromServer =
  | { readonly type: 'ready'; readonly port: number }
  | { readonly type: 'mem'; readonly memory: MemoryReading }
  | { readonly type: 'snapshot'; readonly path: string };

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

export function serveControl(port: number): void {
  process.on('message', (message: ToServer) => {
    void (async () => {
      switch (message.type) {
        case 'mem': {
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
            },
          } satisfies FromServer);
          return;
        }
        case 'snapshot':
          await settle();
          writeHeapSnapshot(message.path);
          process.send?.({ type: 'snapshot', path: message.path } satisfies FromServer);
          return;
        case 'exit':
          process.exit(0);
      }
    })();
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready', port } satisfies FromServer);
}
