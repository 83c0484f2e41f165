/**
 * The rungs a browser client can open, as the kind -> factory map the client takes (the default for
 * browser bundles). Only platform APIs are used underneath: WebTransport, WebSocket, EventSource + fetch.
 */
import { type RungFactories, withTokenParam } from '../src/client/rungs.ts';
import { createSseTransport } from './sse/client.ts';
import { createWebSocketTransport } from './websocket/client.ts';
import { createWebTransportTransport } from './webtransport/client.ts';

export const browserTransports: RungFactories = {
  // The token travels in the URL: the WebTransport API sends no headers and no first message before CONNECT.
  webtransport: ({ offer, token, ...options }) =>
    createWebTransportTransport({
      ...options,
      url: withTokenParam(options.url, token),
      ...(offer.kind === 'webtransport' && offer.certificateHashes
        ? { certificateHashes: offer.certificateHashes }
        : {}),
    }),
  websocket: ({ offer: _offer, token: _token, ...options }) => createWebSocketTransport(options),
  sse: ({ offer: _offer, token, ...options }) =>
    createSseTransport({ ...options, url: withTokenParam(options.url, token) }),
};
