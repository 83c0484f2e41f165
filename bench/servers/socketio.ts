/**
 * Baseline: Socket.IO 4.8 with the WebSocket transport only (no polling, no compression). Events: `e` is
 * echoed back as an event, `a` is acknowledged (the ack carries nothing, like our `ack`), and `p` from a
 * publisher is emitted to its room (`g` query parameter) of subscribers.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { serveControl } from './control.ts';
import { BENCH_MAX_MESSAGE_BYTES } from './limits.ts';

const http = createServer();
const io = new Server(http, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  maxHttpBufferSize: BENCH_MAX_MESSAGE_BYTES,
});

io.on('connection', (socket) => {
  const { role, g } = socket.handshake.query as { role?: string; g?: string };
  if (role === 'sub') socket.join(`g${g}`);
  socket.on('e', (data: unknown) => socket.emit('e', data));
  socket.on('a', (_data: unknown, ack: () => void) => ack());
  socket.on('p', (data: unknown) => io.to(`g${g}`).emit('m', data));
});

await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
serveControl((http.address() as { port: number }).port);
