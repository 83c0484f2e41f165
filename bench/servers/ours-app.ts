/**
 * switchyard's protocol under test (server/protocol over a MemoryHub: hello, pub -> ack, sub -> msg fan-out),
 * started the way an app starts it (`startNodeServer`), with default limits except the message size (64 KiB rows
 * need headroom). Two entry scripts share it: ours.ts (the protocol) and ours-metrics.ts (the protocol with
 * Prometheus metrics). They are separate so that a server without metrics does not load prom-client (~1.9 MB of
 * heap), as an app without metrics does not: a bundle hoists every package import, so a flag could not keep it
 * out. The rungs alone are rung.ts, which loads none of this.
 */
import type { SwitchyardApp } from '../../server/app.ts';
import { MemoryHub } from '../../server/hub/index.ts';
import type { Metrics } from '../../server/metrics/index.ts';
import { startNodeServer } from '../../server/node.ts';
import { createProtocol } from '../../server/protocol/index.ts';
import { serveControl } from './control.ts';
import { BENCH_MAX_MESSAGE_BYTES as maxMessageBytes } from './limits.ts';

export async function startOurs(metrics?: Metrics): Promise<void> {
  const hub = new MemoryHub();
  metrics?.instrumentHub(hub);
  // Sessions outlive their connection for a grace period (60 s by default) so that a client can resume; no
  // client of the bench resumes, and thousands of abandoned sessions would tax later rounds' GC, so it is short.
  const protocol = createProtocol({
    hub,
    maxMessageBytes,
    sessions: { graceMs: 2000 },
    ...(metrics ? { onHello: metrics.onHello } : {}),
  });
  metrics?.watchProtocol(protocol);
  const server = await startNodeServer({
    onConnection: protocol.onConnection,
    limits: { maxMessageBytes },
    ...(metrics ? { configure: (app: SwitchyardApp) => metrics.attach(app) } : {}),
  });
  serveControl(server.port);
}
