/**
 * WebTransport rung, server side, independent of the runtime: a binding (Deno's `Deno.upgradeWebTransport`,
 * or @fails-components/webtransport in Node) hands over an accepted session; `onReady` fires once the
 * client's HELLO arrived, which is when the app should see the connection.
 */
import { isUtf8 } from 'node:buffer';
import type { ConnectionRequest, ServerConnection, ServerTransportLimits } from '../../src/transport.ts';
import { WebTransportConnection, type WebTransportSessionLike } from './connection.ts';

let nextId = 0;

export class WebTransportServerConnection extends WebTransportConnection implements ServerConnection {
  readonly id = `wt-${(++nextId).toString(36)}`;
  readonly request: ConnectionRequest;

  constructor(
    session: WebTransportSessionLike,
    request: ConnectionRequest,
    limits: ServerTransportLimits,
    protocol: 'h3' | 'h2',
    onReady: (connection: ServerConnection) => void,
  ) {
    super(
      session,
      {
        role: 'server',
        protocol,
        maxMessageBytes: limits.maxMessageBytes,
        highWaterMark: limits.highWaterMark,
        // Node and Deno both have it: large text stays bytes until someone reads it as a string.
        isUtf8,
      },
      () => onReady(this),
    );
    this.request = request;
  }
}

export function acceptWebTransportSession(
  session: WebTransportSessionLike,
  request: ConnectionRequest,
  limits: ServerTransportLimits,
  protocol: 'h3' | 'h2',
  onReady: (connection: ServerConnection) => void,
): ServerConnection {
  return new WebTransportServerConnection(session, request, limits, protocol, onReady);
}
