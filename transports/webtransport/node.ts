/**
 * Node entry of the WebTransport client: @fails-components/webtransport's `WebTransport`. Without the
 * native quiche addon it speaks WebTransport over HTTP/2, so `capabilities` say: no unreliable datagrams,
 * no independent streams (one TCP connection).
 */
import { WebTransport } from '@fails-components/webtransport';
import type { Transport } from '../../src/transport.ts';
import {
  type WebTransportConstructor,
  WebTransportTransport,
  type WebTransportTransportOptions,
} from './client.ts';

/** The polyfill picks its transport from `protocols`; without quiche only HTTP/2 is there. */
class Http2WebTransport extends (WebTransport as unknown as new (url: string, options: object) => object) {
  constructor(url: string, options: object = {}) {
    super(url, { ...options, protocols: ['h2'] });
  }
}

export function createNodeWebTransportTransport(options: WebTransportTransportOptions): Transport {
  return new WebTransportTransport({
    protocol: 'h2',
    ...options,
    WebTransport: options.WebTransport ?? (Http2WebTransport as unknown as WebTransportConstructor),
  });
}
