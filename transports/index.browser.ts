/**
 * The rungs a browser client can open, as the kind -> factory map the client takes (the default for
 * browser bundles). Only platform APIs are used underneath: WebTransport, WebSocket, EventSource + fetch.
 *
 * The rungs a page may never use are loaded when the client opens them: WebTransport (streams, framing,
 * datagrams; only when the server offers it and the browser has it) and SSE + POST (only when the rungs above
 * it failed: the fall-back of last resort). Each factory returns a promise of its transport from a dynamic
 * import, a chunk of its own in a bundler that splits code (inlined by one that does not); the client awaits
 * it inside the rung's handshake budget, and a load that fails fails that attempt like a rung that cannot
 * open. WebSocket, the rung nearly every page lands on, is in the main bundle.
 */
import { type RungFactories, withTokenParam } from '../src/client/rungs.ts';
import { SwitchyardError } from '../src/errors.ts';
import { createWebSocketTransport } from './websocket/client.ts';

export const browserTransports: RungFactories = {
  // The token travels in the URL: the WebTransport API sends no headers and no first message before CONNECT.
  webtransport: ({ offer, token, ...options }) => {
    // A browser without WebTransport fails at once, without loading anything.
    if (!(globalThis as { WebTransport?: unknown }).WebTransport) {
      throw new SwitchyardError('ERR_UNSUPPORTED', 'no WebTransport in this runtime');
    }
    return import('./webtransport/client.ts').then((rung) =>
      rung.createWebTransportTransport({
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
    import('./sse/client.ts').then((rung) =>
      rung.createSseTransport({ ...options, url: withTokenParam(options.url, token) }),
    ),
};
