/**
 * The rungs a Node (or Deno) client can open, as the kind -> factory map the client takes. Lives here,
 * not in src/, because src/ must not import transports/ (and Node's rungs pull in Node-only packages).
 */
import { type RungFactories, withTokenParam } from '../src/client/rungs.ts';
import { createNodeSseTransport } from './sse/node.ts';
import { createNodeWebSocketTransport } from './websocket/node.ts';

export const nodeTransports: RungFactories = {
  websocket: ({ offer: _offer, token: _token, ...options }) => createNodeWebSocketTransport(options),
  sse: ({ offer: _offer, token, ...options }) =>
    createNodeSseTransport({ ...options, url: withTokenParam(options.url, token) }),
};
