/** Node entry of the WebSocket client: the same adapter, with `ws` as the WebSocket implementation. */
import { WebSocket } from 'ws';
import type { Transport } from '../../src/transport.ts';
import { type WebSocketConstructor, WebSocketTransport, type WebSocketTransportOptions } from './client.ts';

export function createNodeWebSocketTransport(options: WebSocketTransportOptions): Transport {
  const headers = options.headers;
  // `ws` takes headers (Origin, Authorization) as a third argument; browsers set Origin themselves.
  class HeaderedWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { headers: headers ? { ...headers } : {}, perMessageDeflate: false });
    }
  }
  return new WebSocketTransport({
    ...options,
    WebSocket: options.WebSocket ?? (HeaderedWebSocket as unknown as WebSocketConstructor),
  });
}
