/**
 * The rungs a browser client can open, as the kind -> factory map the client takes (the default for
 * browser bundles). Only platform APIs are used underneath: WebTransport, WebSocket, EventSource + fetch.
 *
 * WebTransport's code (streams, framing, datagrams: about as large as the two other rungs together) is loaded
 * when the server offers WebTransport and the browser has it: a dynamic import, a chunk of its own in a
 * bundler that splits code, inlined by one that does not.
 */
import { type RungFactories, withTokenParam } from '../src/client/rungs.ts';
import { SwitchyardError } from '../src/errors.ts';
import { lazyTransport } from './lazy.ts';
import { createSseTransport } from './sse/client.ts';
import { createWebSocketTransport } from './websocket/client.ts';

/** What WebTransport over HTTP/3 offers (transports/webtransport/connection.ts, protocol h3), known before it loads. */
const WEBTRANSPORT_CAPABILITIES = {
  datagrams: true,
  independentStreams: true,
  binary: true,
  upstream: 'native',
} as const;

export const browserTransports: RungFactories = {
  // The token travels in the URL: the WebTransport API sends no headers and no first message before CONNECT.
  webtransport: ({ offer, token, ...options }) => {
    // A browser without WebTransport fails at once, without loading anything.
    if (!(globalThis as { WebTransport?: unknown }).WebTransport) {
      throw new SwitchyardError('ERR_UNSUPPORTED', 'no WebTransport in this runtime');
    }
    return lazyTransport('webtransport', WEBTRANSPORT_CAPABILITIES, async () =>
      (await import('./webtransport/client.ts')).createWebTransportTransport({
        ...options,
        url: withTokenParam(options.url, token),
        ...(offer.kind === 'webtransport' && offer.certificateHashes
          ? { certificateHashes: offer.certificateHashes }
          : {}),
      }),
    );
  },
  websocket: ({ offer: _offer, token: _token, ...options }) => createWebSocketTransport(options),
  sse: ({ offer: _offer, token, ...options }) =>
    createSseTransport({ ...options, url: withTokenParam(options.url, token) }),
};
