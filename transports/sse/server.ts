/** PLACEHOLDER: replaced by the SSE rung. */

import type { Context } from 'hono';
import { Hono } from 'hono';
import type { Admission } from '../../src/admission.ts';
import type { ConnectionHandler, ConnectionRequest, ServerTransportLimits } from '../../src/transport.ts';

export interface SseRoutesOptions {
  readonly onConnection: ConnectionHandler;
  readonly limits: ServerTransportLimits;
  readonly heartbeatMs: number;
  readonly admission: Admission;
  readonly connectionRequest: (c: Context) => ConnectionRequest;
}

export function createSseRoutes(_options: SseRoutesOptions): Hono {
  return new Hono();
}
