/**
 * switchyard under test, started the way an app starts it (`startNodeServer`), with default limits except the
 * message size (64 KiB rows need headroom). Two entry scripts share it: ours.ts (the rungs alone, or the full
 * protocol) and ours-metrics.ts (the protocol with Prometheus metrics). They are separate so that a server
 * without metrics does not load prom-client (~1.9 MB of heap), as an app without metrics does not: a bundle
 * hoists every package import, so a flag could not keep it out.
 *   rung      the rungs alone: every message echoed on its channel through `onConnection`; a text
 *             `push:N` (SSE push rows) streams N-byte messages as fast as `send()`'s backpressure allows
 *   protocol  the full protocol (server/protocol over a MemoryHub): hello, pub -> ack, sub -> msg fan-out
 */
import type { SwitchyardApp } from '../../server/app.ts';
import { MemoryHub } from '../../server/hub/index.ts';
import type { Metrics } from '../../server/metrics/index.ts';
import { startNodeServer } from '../../server/node.ts';
import { createProtocol } from '../../server/protocol/index.ts';
import type { ConnectionHandler } from '../../src/transport.ts';
import { serveControl } from './control.ts';

const maxMessageBytes = 2 << 20;

const echo: ConnectionHandler = (connection) => {
  connection.on('message', (m) => {
    if (typeof m.data === 'string' && m.data.startsWith('push:')) {
      const payload = 'x'.repeat(Number(m.data.slice(5)));
      void (async () => {
        while (connection.state === 'open') await connection.send(payload).catch(() => {});
      })();
      return;
    }
    connection.send(m.data, { channel: m.channel }).catch(() => {});
  });
};

export async function startOurs(mode: string, metrics?: Metrics): Promise<void> {
  const hub = new MemoryHub();
  metrics?.instrumentHub(hub);
  // Sessions outlive their connection for a grace period (60 s by default) so that a client can resume; no
  // client of the bench resumes, and thousands of abandoned sessions would tax later rounds' GC, so it is short.
  const protocol =
    mode === 'protocol'
      ? createProtocol({
          hub,
          maxMessageBytes,
          sessions: { graceMs: 2000 },
          ...(metrics ? { onHello: metrics.onHello } : {}),
        })
      : undefined;
  if (protocol) metrics?.watchProtocol(protocol);
  const server = await startNodeServer({
    onConnection: protocol ? protocol.onConnection : echo,
    limits: { maxMessageBytes },
    ...(metrics ? { configure: (app: SwitchyardApp) => metrics.attach(app) } : {}),
  });
  serveControl(server.port);
}
