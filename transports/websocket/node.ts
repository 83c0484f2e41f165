/** Node entry of the WebSocket client: the same adapter, with `ws` as the WebSocket implementation. */
import { WebSocket } from 'ws';
import { CloseCode } from '../../src/close-codes.ts';
import type { Transport } from '../../src/transport.ts';
import {
  type WebSocketConstructor,
  type WebSocketLike,
  WebSocketTransport,
  type WebSocketTransportOptions,
} from './client.ts';

/**
 * `ws` behind the WHATWG shape the adapter expects. It listens on `ws`'s native events rather than its
 * addEventListener, which wraps every message in a MessageEvent: that allocation showed on the hot path
 * (bench/run.ts). It also takes headers (Origin, Authorization), which browsers set themselves.
 */
function nodeWebSocket(headers: Readonly<Record<string, string>> | undefined): WebSocketConstructor {
  return class NodeWebSocket implements WebSocketLike {
    binaryType = 'nodebuffer';
    readonly #ws: WebSocket;

    constructor(url: string, protocols?: string | string[]) {
      this.#ws = new WebSocket(url, protocols, {
        headers: headers ? { ...headers } : {},
        perMessageDeflate: false,
      });
    }

    get bufferedAmount(): number {
      return this.#ws.bufferedAmount;
    }

    get readyState(): number {
      return this.#ws.readyState;
    }

    send(data: string | ArrayBufferView | ArrayBuffer): void {
      this.#ws.send(data);
    }

    close(code?: number, reason?: string): void {
      this.#ws.close(code, reason);
    }

    addEventListener(type: string, listener: (event: never) => void): void {
      const ws = this.#ws;
      switch (type) {
        case 'open':
          ws.on('open', () => (listener as () => void)());
          return;
        case 'message': {
          const deliver = listener as (event: { data: unknown }) => void;
          ws.on('message', (data, isBinary) => {
            const bytes = Array.isArray(data)
              ? Buffer.concat(data)
              : Buffer.isBuffer(data)
                ? data
                : Buffer.from(data);
            deliver({ data: isBinary ? bytes : bytes.toString() });
          });
          return;
        }
        case 'close': {
          const deliver = listener as (event: { code: number; reason: string; wasClean: boolean }) => void;
          ws.on('close', (code, reason) =>
            deliver({ code, reason: reason.toString(), wasClean: code !== CloseCode.Abnormal }),
          );
          return;
        }
        case 'error':
          ws.on('error', (error) => (listener as (event: unknown) => void)(error));
          return;
      }
    }
  };
}

export function createNodeWebSocketTransport(options: WebSocketTransportOptions): Transport {
  return new WebSocketTransport({
    ...options,
    WebSocket: options.WebSocket ?? nodeWebSocket(options.headers),
  });
}
