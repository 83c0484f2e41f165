/**
 * switchyard's rungs under test alone, as an app that serves its own messages through `onConnection` starts them
 * (`startNodeServer`, default limits but the message size): no protocol, hub or codec is imported, so none is
 * loaded, as in such an app (a bundle hoists every import: sharing ours-app.ts, which imports the protocol, gave
 * this server the protocol's and MessagePack's code at rest). Every message is echoed on its channel; a text
 * `push:N` (SSE push rows) streams N-byte messages as fast as `send()`'s backpressure allows.
 */
import { startNodeServer } from '../../server/node.ts';
import type { ConnectionHandler } from '../../src/transport.ts';
import { serveControl } from './control.ts';
import { BENCH_MAX_MESSAGE_BYTES } from './limits.ts';

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

const server = await startNodeServer({
  onConnection: echo,
  limits: { maxMessageBytes: BENCH_MAX_MESSAGE_BYTES },
});
serveControl(server.port);
