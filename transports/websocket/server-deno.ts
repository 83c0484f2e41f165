/**
 * Binds a platform (WHATWG) server-side WebSocket, as `Deno.upgradeWebSocket` returns, to the
 * runtime-independent WebSocketServerConnection. Deno validates UTF-8 and answers pings itself; the
 * message size limit is enforced by the connection (close 1009).
 */
import { CloseCode } from '../../src/close-codes.ts';
import { encodeBinaryFrame, encodeTextFrame } from '../../src/frame.ts';
import type { ConnectionRequest, ServerConnection, ServerTransportLimits } from '../../src/transport.ts';
import { WebSocketServerConnection } from './server.ts';

export function acceptPlatformWebSocket(
  socket: WebSocket,
  request: ConnectionRequest,
  limits: ServerTransportLimits,
  onOpen: (connection: ServerConnection) => void,
): void {
  socket.binaryType = 'arraybuffer';
  let connection: WebSocketServerConnection | undefined;
  socket.addEventListener('open', () => {
    connection = new WebSocketServerConnection(
      {
        get bufferedAmount() {
          return socket.bufferedAmount;
        },
        sendText: (channel, text) => socket.send(encodeTextFrame(channel, text)),
        // A platform WebSocket sends text from strings only.
        sendUtf8Text: (channel, text) => socket.send(encodeTextFrame(channel, text.text())),
        sendBinary: (channel, bytes) => socket.send(encodeBinaryFrame(channel, bytes)),
        close: (code, reason) => socket.close(code, reason),
        terminate: () => socket.close(),
      },
      request,
      limits,
    );
    onOpen(connection);
  });
  socket.addEventListener('message', (event: MessageEvent) => {
    if (typeof event.data === 'string') connection?.receiveText(event.data);
    else connection?.receiveBinary(new Uint8Array(event.data as ArrayBuffer));
  });
  socket.addEventListener('close', (event: CloseEvent) => {
    connection?.receiveClose(event.code || CloseCode.Abnormal, event.reason, event.wasClean);
  });
}
