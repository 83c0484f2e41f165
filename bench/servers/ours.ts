/**
 * switchyard under test, started the way an app starts it (`startNodeServer`), with default limits except the
 * message size (64 KiB rows need headroom). Mode from argv[2]:
 *   rung      the rungs alone: every message echoed on its channel through `onConnection`; a text
 *             `push:N` (SSE push rows) streams N-byte messages as fast as `send()`'s backpressure allows
 *   protocol  the full protocol (server/protocol over a MemoryHub): hello, pub -> ack, sub -> msg fan-out
 *             (`protocol metrics`: the same with Prometheus metrics counting every connection and publish)
 */

import type { SwitchyardApp } from '../../server/app.ts';
import { MemoryHub } from '../../server/hub/index.ts';
import { createMetrics } from '../../server/metrics/index.ts';
import { startNodeServer } from '../../server/node.ts';
import { createProtocol } from '../../server/protocol/index.ts';
import type { ConnectionHandler } from '../../src/transport.ts';
import { serveControl } from './control.ts';

const mode = process.argv[2] ?? 'rung';
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

// Sessions outlive their connection for a grace period (60 s by default) so that a client can resume; no
// client of the bench resumes, and thousands of abandoned sessions would tax later rounds' GC, so it is short.
// `protocol metrics`: the same with Prometheus metrics on (server/metrics), to measure what counting costs.
const metrics = process.argv[3] === 'metrics' ? createMetrics() : undefined;
const hub = new MemoryHub();
metrics?.instrumentHub(hub);
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
