/**
 * The sessions one SSE endpoint holds, and the way back into one: a dropped event stream comes back with
 * `Last-Event-ID` (resume key + sequence) and gets what it missed from the session's replay buffer. A session
 * that ended while its stream was down leaves a tombstone for one grace period, so the client learns the real
 * close code on resume rather than a bare 4010.
 */
import type { Context } from 'hono';
import { CloseCode } from '../../src/close-codes.ts';
import { encodeSseEvent, SseEventName } from './encoder.ts';
import { eventStream, writeAndEnd } from './event-stream.ts';
import { batchResponse, refused } from './forward.ts';
import type { SseSession } from './session.ts';

export class SseSessionRegistry {
  readonly byId = new Map<string, SseSession>();
  readonly #byResumeKey = new Map<string, SseSession>();
  /**
   * Close events of ended sessions, by resume key, for one grace period: a client whose stream was down when
   * its session was closed (shutdown 1001, slow consumer 4008, ...) gets the real code on resume, not 4010.
   */
  readonly #tombstones = new Map<string, string>();
  /** One timer for all sessions, running only while there are any (a stopped server leaves none behind). */
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  readonly #commentMs: number;
  readonly #resumeGraceMs: number;

  constructor(commentMs: number, resumeGraceMs: number) {
    this.#commentMs = commentMs;
    this.#resumeGraceMs = resumeGraceMs;
  }

  add(session: SseSession): void {
    this.byId.set(session.id, session);
    this.#byResumeKey.set(session.resumeKey, session);
    this.#heartbeat ??= setInterval(() => {
      for (const s of this.byId.values()) s.writeComment('hb');
    }, this.#commentMs);
  }

  remove(session: SseSession): void {
    this.byId.delete(session.id);
    this.#byResumeKey.delete(session.resumeKey);
    const closeEvent = session.closeEventText;
    if (closeEvent !== undefined) {
      this.#tombstones.set(session.resumeKey, closeEvent);
      const timer = setTimeout(() => this.#tombstones.delete(session.resumeKey), this.#resumeGraceMs);
      (timer as { unref?: () => void }).unref?.();
    }
    if (this.byId.size === 0 && this.#heartbeat) {
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
    }
  }

  /** Answers a GET carrying `Last-Event-ID`: the rest of the session's events, its tombstone, or a refusal. */
  resume(c: Context, lastEventId: string): Response {
    const dot = lastEventId.lastIndexOf('.');
    const session = dot > 0 ? this.#byResumeKey.get(lastEventId.slice(0, dot)) : undefined;
    const seqText = lastEventId.slice(dot + 1);
    const seq = /^\d{1,15}$/.test(seqText) ? Number(seqText) : -1;
    const tombstone = dot > 0 ? this.#tombstones.get(lastEventId.slice(0, dot)) : undefined;
    if (tombstone !== undefined && (c.req.header('accept') ?? '').includes('text/event-stream')) {
      return eventStream(c, writeAndEnd(tombstone));
    }
    if (session?.state !== 'open') return unknownSession(c);
    if (!session.canResumeFrom(seq)) {
      // Events were lost for good: end the session so the app layer resyncs from its own history.
      session.close(CloseCode.UnknownSession, 'events after Last-Event-ID are no longer available');
      return unknownSession(c);
    }
    return eventStream(c, (sink) => {
      sink.write(`: switchyard resume\n\n`);
      session.attach(sink, seq);
    });
  }
}

/** A resume that cannot be served: the client's EventSource is listening, so tell it with a `close` event. */
function unknownSession(c: Context): Response {
  const reason = 'session expired or its events are no longer available; open a new session';
  if (!(c.req.header('accept') ?? '').includes('text/event-stream')) {
    return batchResponse(c, refused(404, 'ERR_UNKNOWN_SESSION', reason, CloseCode.UnknownSession));
  }
  return eventStream(
    c,
    writeAndEnd(
      encodeSseEvent({
        event: SseEventName.close,
        data: JSON.stringify({ code: CloseCode.UnknownSession, reason }),
      }),
    ),
  );
}
