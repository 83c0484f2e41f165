/**
 * SSE + POST rung, server side: events down over one long-lived GET, messages up as batched POSTs to a
 * session-scoped URL. Runs wherever Hono runs (Node, Deno). The session, not the HTTP request, is the
 * connection: a dropped GET resumes with `Last-Event-ID` within a grace period, with nothing lost.
 * This file holds the options and the GET route; the rest lives by concern: session.ts (queue, replay buffer,
 * backpressure), resume.ts (the sessions held and the way back into one), post.ts (the upstream batches),
 * event-stream.ts (the response a GET streams into). Wire format: docs/transports/sse.md.
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import { type Admission, refusalResponse } from '../../src/admission.ts';
import type { ConnectionHandler, ConnectionRequest, ServerTransportLimits } from '../../src/transport.ts';
import { encodeSseEvent, SseEventName } from './encoder.ts';
import { eventStream } from './event-stream.ts';
import type { SseForwarder } from './forward.ts';
import { mountBatchRoutes } from './post.ts';
import { SseSessionRegistry } from './resume.ts';
import { type SessionSettings, SseSession } from './session.ts';
import { SSE_HEADERS } from './sink.ts';
export interface SseRoutesOptions {
  readonly onConnection: ConnectionHandler;
  readonly limits: ServerTransportLimits;
  readonly heartbeatMs: number;
  readonly admission: Admission;
  readonly connectionRequest: (c: Context) => ConnectionRequest;
  /**
   * The client's address (what `connectionRequest(c).ip` says), for upstream POSTs: they need only that, and
   * copying every header per POST is a cost of its own. Default: `connectionRequest(c).ip`.
   */
  readonly remoteAddress?: (c: Context) => string;
  /** How long a session waits for its event stream to come back (`Last-Event-ID`). Default 15 s. */
  readonly resumeGraceMs?: number;
  /** Events kept for replay after a dropped stream, in bytes (at least the high-water mark). Default 2 MiB. */
  readonly replayBytes?: number;
  /** Comment heartbeat interval on the event stream; default min(heartbeatMs, 15 s). */
  readonly commentIntervalMs?: number;
  /**
   * Several server processes behind a balancer with no affinity: session ids name the node holding the event
   * stream, and a POST that lands on another node is handed to that one (server/redis forwards over Redis).
   */
  readonly forwarder?: SseForwarder;
}

export { BATCH_HEADER, SECRET_HEADER } from './post.ts';
export { SSE_HEADERS };

/** The post URL as a reference relative to the stream URL: right behind TLS-terminating and path-rewriting proxies. */
function relativePostUrl(requestUrl: string, sessionId: string): string {
  const path = new URL(requestUrl).pathname;
  return path.endsWith('/') ? sessionId : `${path.slice(path.lastIndexOf('/') + 1)}/${sessionId}`;
}

export function createSseRoutes(options: SseRoutesOptions): Hono {
  const settings: SessionSettings = {
    resumeGraceMs: options.resumeGraceMs ?? 15_000,
    replayBytes: Math.max(options.replayBytes ?? 2 * 1024 * 1024, options.limits.highWaterMark),
  };
  const commentMs = options.commentIntervalMs ?? Math.min(options.heartbeatMs, 15_000);
  const sessions = new SseSessionRegistry(commentMs, settings.resumeGraceMs);
  const app = new Hono();

  app.get('/', async (c) => {
    const request = options.connectionRequest(c);
    const lastEventId = c.req.header('last-event-id');
    // EventSource reconnects to the same URL, so a single-use token in it is spent: a resume is a request
    // within an existing session (proven by its resume key below, or refused with 4010), like a POST.
    const refusal = await options.admission({
      request: c.req.raw,
      ip: request.ip,
      kind: 'sse',
      phase: lastEventId ? 'post' : 'connect',
    });
    if (refusal) return refusalResponse(refusal);

    if (lastEventId) return sessions.resume(c, lastEventId);

    const session = new SseSession(
      request,
      options.limits,
      settings,
      () => sessions.remove(session),
      options.forwarder?.nodeId,
    );
    sessions.add(session);
    const postUrl = relativePostUrl(c.req.url, session.id);
    return eventStream(c, (sink) => {
      // An initial comment makes proxies flush headers at once; `retry` speeds up EventSource's reconnect.
      sink.write(
        `: switchyard\nretry: 1000\n\n${encodeSseEvent({
          event: SseEventName.session,
          id: session.sessionEventId,
          data: JSON.stringify({ id: session.id, secret: session.secret, postUrl }),
        })}`,
      );
      options.onConnection(session);
      session.attach(sink, 0);
    });
  });

  mountBatchRoutes(app, options, sessions.byId);
  return app;
}
