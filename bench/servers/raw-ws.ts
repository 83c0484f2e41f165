/**
 * Baseline: raw `ws` 8.23, written the way its README shows. `/` echoes every message; `/fan?role=sub&g=N`
 * joins group N and `/fan?role=pub&g=N` sends every message to the group's subscribers.
 */
import { type WebSocket, WebSocketServer } from 'ws';
import { serveControl } from './control.ts';
import { BENCH_MAX_MESSAGE_BYTES } from './limits.ts';

const wss = new WebSocketServer({
  port: 0,
  host: '127.0.0.1',
  perMessageDeflate: false,
  maxPayload: BENCH_MAX_MESSAGE_BYTES,
});
const groups = new Map<string, Set<WebSocket>>();

wss.on('connection', (socket, request) => {
  const url = new URL(request.url ?? '/', 'http://x');
  if (url.pathname !== '/fan') {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    return;
  }
  const group = url.searchParams.get('g') ?? '0';
  if (url.searchParams.get('role') === 'sub') {
    const members = groups.get(group) ?? new Set<WebSocket>();
    groups.set(group, members);
    members.add(socket);
    socket.on('close', () => members.delete(socket));
    return;
  }
  socket.on('message', (data, isBinary) => {
    for (const member of groups.get(group) ?? []) member.send(data, { binary: isBinary });
  });
});

await new Promise((resolve) => wss.once('listening', resolve));
serveControl((wss.address() as { port: number }).port);
