/**
 * The server half of the echo benchmark, run as its own process (as the anchors in DESIGN.md were measured):
 * a raw `ws` echo server and our WebSocket rung's echo server, side by side, so both face the same machine.
 * Prints one JSON line with both ports.
 */
import { WebSocketServer } from 'ws';
import { startNodeServer } from '../server/node.ts';

const raw = new WebSocketServer({
  port: 0,
  host: '127.0.0.1',
  perMessageDeflate: false,
  maxPayload: 2 * 1024 * 1024,
});
raw.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
});
await new Promise((resolve) => raw.once('listening', resolve));

const ours = await startNodeServer({
  onConnection: (connection) => {
    connection.on('message', (m) => {
      connection.send(m.data, { channel: m.channel }).catch(() => {});
    });
  },
  limits: { maxMessageBytes: 2 * 1024 * 1024 },
});

const rawPort = (raw.address() as { port: number }).port;
process.stdout.write(
  `${JSON.stringify({ rawUrl: `ws://127.0.0.1:${rawPort}`, oursUrl: `ws://127.0.0.1:${ours.port}/rt/ws` })}\n`,
);
process.on('SIGTERM', async () => {
  raw.close();
  await ours.close();
  process.exit(0);
});
