/**
 * A switchyard server as a separate process, so that tests can SIGKILL it (no graceful close, no `finally`)
 * or SIGTERM it (graceful 1001) and start it again on the same port. Prints one JSON line `{ port }` once
 * listening.
 *
 * With JOURNAL set it keeps what an app would keep in durable storage (Redis in production) in an append-only
 * file that survives a SIGKILL (the page cache outlives the process): the `down` topic's history, restored
 * into a fresh hub on start (same sequence numbers), and the ids of applied client publishes, so that a
 * publish re-sent after a crash is acknowledged but applied once (the idempotency key the protocol gives
 * every `pub`). With PRODUCE_MS set the server publishes `{ n }` to `down` at that interval.
 *
 * env: PORT (default 0), HEARTBEAT_MS (default 15000), JOURNAL, PRODUCE_MS.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { MemoryHub } from '../../../server/hub/memory.ts';
import { startNodeServer } from '../../../server/node.ts';
import { createProtocol } from '../../../server/protocol/index.ts';

type JournalLine =
  | { readonly t: 'down'; readonly n: number }
  | { readonly t: 'up'; readonly id: string; readonly data: unknown };

const journal = process.env.JOURNAL;
const heartbeatMs = Number(process.env.HEARTBEAT_MS ?? 15_000);
const hub = new MemoryHub({ historySize: 100_000 });
const appliedIds = new Set<string>();
let produced = 0;

if (journal && existsSync(journal)) {
  for (const line of readFileSync(journal, 'utf8').split('\n')) {
    if (!line) continue;
    let entry: JournalLine;
    try {
      entry = JSON.parse(line) as JournalLine;
    } catch {
      continue; // a line torn by the kill was never acknowledged to anyone
    }
    if (entry.t === 'down') {
      produced = entry.n;
      hub.publishSync('down', { n: entry.n });
    } else appliedIds.add(entry.id);
  }
}

function record(entry: JournalLine): void {
  if (journal) appendFileSync(journal, `${JSON.stringify(entry)}\n`);
}

const protocol = createProtocol({
  hub,
  heartbeatMs,
  onPublish: (event) => {
    if (!event.reliable) return;
    if (appliedIds.has(event.id)) return; // applied before a crash, its ack was lost: ack again, apply once
    appliedIds.add(event.id);
    record({ t: 'up', id: event.id, data: event.data });
  },
});

const server = await startNodeServer({
  port: Number(process.env.PORT ?? 0),
  heartbeatMs,
  onConnection: protocol.onConnection,
});

const produceMs = Number(process.env.PRODUCE_MS ?? 0);
if (produceMs > 0) {
  setInterval(() => {
    produced++;
    record({ t: 'down', n: produced });
    hub.publishSync('down', { n: produced });
  }, produceMs);
}

process.on('SIGTERM', async () => {
  // server/node.ts close() can wait forever when a client reconnects to the old process while it is
  // shutting down (an upgraded socket accepted after closeAll is not cut): bound the graceful phase.
  const deadline = setTimeout(() => {
    process.stderr.write('server-child: graceful close did not finish within 3 s, exiting\n');
    process.exit(0);
  }, 3000);
  await server.close();
  clearTimeout(deadline);
  protocol.close();
  process.exit(0);
});

process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
