/**
 * The publish path of one connection: `pub` -> topic rule and the app's permission -> session dedup ->
 * the app's `onPublish` (by default: the hub) -> `ack` or `error`; `vpub` takes the same checks without id,
 * dedup or ack. Every step answers at once when it can (the embedded hub and session store do), so the
 * common `pub` -> `ack` needs no promise.
 */
import type { PublishEnvelope, VolatilePublishEnvelope } from '../../src/envelope.ts';
import { plainData } from '../../src/raw-json.ts';
import type { ProtocolConnection } from './connection.ts';
import type { OperationRefusal } from './index.ts';
import { failed, MAX_TOPIC_LENGTH, unavailable, validTopic } from './outcomes.ts';
import { isPromise, type Maybe } from './serial.ts';
import { PUBLISHED, type PublishOutcome, type Session } from './sessions.ts';

/** The topic rule and the app's permission, for `pub` and `vpub` alike; null when allowed. */
function refusePublish(
  conn: ProtocolConnection,
  topic: string | undefined,
  what: string,
): Maybe<PublishOutcome | null> {
  if (topic === undefined) return null;
  if (!validTopic(topic)) {
    return {
      ok: false,
      code: 'ERR_INVALID_TOPIC',
      message: `${what}.topic: expected 1-${MAX_TOPIC_LENGTH} characters`,
    };
  }
  const authorize = conn.settings.authorize;
  if (!authorize) return null;
  const refusal = authorize('pub', topic, conn.hookContext());
  const outcome = (r: OperationRefusal | null): PublishOutcome | null =>
    r ? { ok: false, code: r.code, message: r.message } : null;
  return isPromise(refusal) ? refusal.then(outcome) : outcome(refusal);
}

/** Hands the message to the app (by default: the hub); the outcome at once when the app answers at once. */
function deliver(
  conn: ProtocolConnection,
  envelope: PublishEnvelope | VolatilePublishEnvelope,
  reliable: boolean,
): Maybe<PublishOutcome> {
  const onPublish = conn.settings.onPublish;
  if (onPublish === undefined) return publishToHub(conn, envelope, reliable);
  const context = conn.hookContext();
  let done: void | Promise<void>;
  try {
    // A large JSON `data` arrives as its bytes (RawJson): the app sees the value, parsed here, for it only.
    const data = plainData(envelope.data);
    // The whole context (user included, as ProtocolContext promises), then what this message adds.
    done = onPublish(
      reliable
        ? {
            ...context,
            reliable: true,
            id: (envelope as PublishEnvelope).id,
            topic: envelope.topic,
            data,
          }
        : {
            ...context,
            reliable: false,
            id: undefined,
            topic: envelope.topic as string,
            data,
          },
    );
  } catch (error) {
    return failed(error);
  }
  return isPromise(done) ? done.then(() => PUBLISHED, failed) : PUBLISHED;
}

/**
 * The default `onPublish`: to the hub as the client sent it (a `pub` without a topic is acknowledged and
 * dropped). Completes at once when the hub does (the embedded one), so `pub` -> `ack` needs no promise.
 */
function publishToHub(
  conn: ProtocolConnection,
  envelope: PublishEnvelope | VolatilePublishEnvelope,
  reliable: boolean,
): Maybe<PublishOutcome> {
  const topic = envelope.topic;
  if (topic === undefined) return PUBLISHED;
  const hub = conn.settings.hub;
  let done: Maybe<unknown>;
  try {
    done = reliable
      ? // The session and message id make the publish idempotent in a networked hub: a message re-sent to
        // another node after a crash between the hub's write and the ack is written once.
        hub.publish(topic, envelope.data, {
          idempotencyKey: `${(conn.session as Session).id}/${(envelope as PublishEnvelope).id}`,
          // Decoded from a frame the rung handed over: history may keep large data without copying it.
          handedOver: true,
        })
      : hub.publishVolatile(topic, envelope.data);
  } catch (error) {
    return failed(error);
  }
  return isPromise(done) ? done.then(() => PUBLISHED, failed) : PUBLISHED;
}

function apply(conn: ProtocolConnection, envelope: PublishEnvelope): Maybe<PublishOutcome> {
  conn.settings.stats.applied++;
  const refused = refusePublish(conn, envelope.topic, 'pub');
  if (isPromise(refused)) {
    return refused.then((r) => r ?? deliver(conn, envelope, true), failed);
  }
  return refused ?? deliver(conn, envelope, true);
}

export function publish(conn: ProtocolConnection, envelope: PublishEnvelope): Maybe<void> {
  let dedup: ReturnType<Session['dedup']>;
  try {
    dedup = (conn.session as Session).dedup(envelope.id, () => apply(conn, envelope), {
      idempotent: conn.settings.idempotentPublish,
    });
  } catch (error) {
    answer(conn, envelope, unavailable(error));
    return undefined;
  }
  if (isPromise(dedup)) {
    return dedup.then(
      (result) => settle(conn, envelope, result),
      (error: unknown) => answer(conn, envelope, unavailable(error)),
    );
  }
  return settle(conn, envelope, dedup);
}

function settle(
  conn: ProtocolConnection,
  envelope: PublishEnvelope,
  result: Awaited<ReturnType<Session['dedup']>>,
): Maybe<void> {
  if (result.duplicate) conn.settings.stats.duplicates++;
  const outcome = result.outcome;
  if (isPromise(outcome)) {
    return outcome.then(
      (o) => answer(conn, envelope, o),
      (error: unknown) => answer(conn, envelope, unavailable(error)),
    );
  }
  answer(conn, envelope, outcome);
  return undefined;
}

function answer(conn: ProtocolConnection, envelope: PublishEnvelope, result: PublishOutcome): void {
  if (result.ok) conn.send({ type: 'ack', id: envelope.id }, envelope.topic);
  else if (result.closeCode !== undefined) conn.close(result.closeCode, result.message);
  else conn.sendError(result.code, result.message, envelope.topic, envelope.id);
}

/** No id, no dedup, no ack: a refusal is reported once as an `error` without `ref`. */
export function publishVolatile(conn: ProtocolConnection, envelope: VolatilePublishEnvelope): Maybe<void> {
  conn.settings.stats.volatileReceived++;
  const refused = refusePublish(conn, envelope.topic, 'vpub');
  const report = (outcome: PublishOutcome | null) => {
    if (outcome && !outcome.ok) conn.sendError(outcome.code, outcome.message, envelope.topic);
  };
  const proceed = (r: PublishOutcome | null): Maybe<void> => {
    if (r) return report(r);
    const delivered = deliver(conn, envelope, false);
    return isPromise(delivered) ? delivered.then(report) : report(delivered);
  };
  return isPromise(refused)
    ? refused.then(proceed, (error: unknown) => report(failed(error)))
    : proceed(refused);
}
