/**
 * The rungs a browser client can open, as the kind -> factory map the client takes (the default for
 * browser bundles). Only platform APIs are used underneath: WebTransport, WebSocket, EventSource + fetch.
 *
 * The rungs a page may never use are loaded when the client opens them: WebTransport (streams, framing,
 * datagrams; only when the server offers it and the browser has it) and SSE + POST (only when the rungs above
 * it failed: the fall-back of last resort). Each is a dynamic import, a chunk of its own in a bundler that
 * splits code (inlined by one that does not), fetched inside the rung's handshake budget; WebSocket, the rung
 * nearly every page lands on, is in the main bundle.
 */
import { type RungFactories, withTokenParam } from '../src/client/rungs.ts';
import { SwitchyardError } from '../src/errors.ts';
import { lazyTransport } from './lazy.ts';
import { createWebSocketTransport } from './websocket/client.ts';

/**
 * What each lazy rung can do, known before its code loads (the link plans its lanes from it): the same as
 * the real transport's (transports/webtransport/connection.ts over h3, transports/sse/encoder.ts), which
 * takes over once loaded; transports/lazy.test.ts checks that they agree. Written out here so that the main
 * chunk does not import the rungs' modules.
 */
const WEBTRANSPORT_CAPABILITIES = {
  datagrams: true,
  independentStreams: true,
  binary: true,
  upstream: 'native',
} as const;
const SSE_CAPABILITIES = {
  datagrams: false,
  independentStreams: false,
  binary: false,
  upstream: 'post',
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
    lazyTransport('sse', SSE_CAPABILITIES, async () =>
      (await import('./sse/client.ts')).createSseTransport({
        ...options,
        url: withTokenParam(options.url, token),
      }),
    ),
};
