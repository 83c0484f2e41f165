/**
 * Binds a `ws` WebSocket (as accepted by @hono/node-server's upgrade) to the runtime-independent
 * WebSocketServerConnection, and finds dead peers with protocol-level pings (Node can see pongs; browsers cannot,
 * which is why the client also runs application heartbeats).
 */
import type { WebSocket } from 'ws';
import { CloseCode } from '../../src/close-codes.ts';
import type { ConnectionRequest, ServerConnection, ServerTransportLimits } from '../../src/transport.ts';
import { WebSocketServerConnection } from './server.ts';

export interface NodeWebSocketOptions {
  readonly limits: ServerTransportLimits;
  /** Interval of protocol pings; a peer that misses one full interval is terminated. 0 disables. */
  readonly pingIntervalMs: number;
}

export function acceptNodeWebSocket(
  socket: WebSocket,
  request: ConnectionRequest,
  options: NodeWebSocketOptions,
): ServerConnection {
  const connection = new WebSocketServerConnection(
    {
      get bufferedAmount() {
        return socket.bufferedAmount;
      },
      send: (data) => socket.send(data),
      close: (code, reason) => socket.close(code, reason),
      terminate: () => socket.terminate(),
    },
    request,
    options.limits,
  );
  socket.on('message', (data, isBinary) => {
    const bytes = Array.isArray(data)
      ? Buffer.concat(data)
      : data instanceof ArrayBuffer
        ? Buffer.from(data)
        : data;
    if (isBinary) connection.receiveBinary(bytes);
    else connection.receiveText(bytes.toString('utf8'));
  });
  let alive = true;
  let timer: ReturnType<typeof setInterval> | undefined;
  if (options.pingIntervalMs > 0) {
    socket.on('pong', () => {
      alive = true;
    });
    timer = setInterval(() => {
      if (!alive) {
        connection.terminate(CloseCode.HeartbeatTimeout, 'no pong within the ping interval');
        return;
      }
      alive = false;
      socket.ping();
    }, options.pingIntervalMs);
    timer.unref?.();
  }
  socket.on('close', (code, reason) => {
    if (timer) clearInterval(timer);
    connection.receiveClose(code || CloseCode.Abnormal, reason.toString('utf8'), code !== CloseCode.Abnormal);
  });
  socket.on('error', () => {
    // `ws` closes the socket with the right code (1002, 1007, 1009) after an error and then emits 'close'.
  });
  return connection;
}
