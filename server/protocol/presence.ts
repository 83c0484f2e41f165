/**
 * A connection's presence: after a `sub` the client is present on the topic (unless the app's `authorize`
 * refuses `presence`), and with `sub.presence` it follows the topic's joins and leaves (unless it refuses
 * `presence-read`, which also guards the `presence` request). A member is this connection, under an id made
 * for it (never the session id, which would let others resume the session), with the token's subject as `user`.
 * Presence failures (a Redis outage) never cost the subscription: the store writes its members again later.
 */
import type { PresenceEnvelope, SubscribeEnvelope } from '../../src/envelope.ts';
import type { PresenceMember } from '../../src/presence.ts';
import { presenceInfoProblem } from '../../src/presence.ts';
import type { ProtocolConnection } from './connection.ts';
import { describeError, MAX_TOPIC_LENGTH, validTopic } from './outcomes.ts';

interface TopicPresence {
  present: boolean;
  unwatch: (() => void) | undefined;
}

/** Per connection, made on its first `sub`. */
export class ConnectionPresence {
  readonly client = randomClientId();
  readonly topics = new Map<string, TopicPresence>();
}

function randomClientId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  let id = '';
  for (const byte of bytes) id += byte.toString(16).padStart(2, '0');
  return id;
}

/** A `sub` whose info is too big or not an object is refused whole, with an error and no subscription: true when refused. */
export function refuseInfo(conn: ProtocolConnection, envelope: SubscribeEnvelope): boolean {
  if (envelope.info === undefined) return false;
  const problem = presenceInfoProblem(envelope.info);
  if (problem === null) return false;
  conn.sendError(problem.code, problem.message, envelope.topic);
  return true;
}

/** After a `sub` went through: enter the topic's presence, and follow it if asked. */
export async function enterPresence(conn: ProtocolConnection, envelope: SubscribeEnvelope): Promise<void> {
  const { presence: store, authorize } = conn.settings;
  const topic = envelope.topic;
  if (!store || !(await conn.subs?.get(topic)) || conn.closed) return;
  conn.presence ??= new ConnectionPresence();
  const state = conn.presence;
  const previous = state.topics.get(topic);
  previous?.unwatch?.();
  const entry: TopicPresence = { present: false, unwatch: undefined };
  state.topics.set(topic, entry);
  const context = conn.hookContext();
  try {
    if (envelope.presence) {
      const refusal = await authorize?.('presence-read', topic, context);
      if (refusal) conn.sendError(refusal.code, refusal.message, topic);
      else {
        const unwatch = await store.watch(topic, (change) =>
          conn.send({ type: change.action, topic, client: change.member }, topic),
        );
        if (state.topics.get(topic) === entry && !conn.closed) entry.unwatch = unwatch;
        else unwatch();
      }
    }
    if (await authorize?.('presence', topic, context)) {
      if (previous?.present) await store.leave(topic, state.client);
      return;
    }
    if (state.topics.get(topic) !== entry || conn.closed) return;
    const member: { client: string; user?: string; info?: PresenceMember['info'] } = { client: state.client };
    if (context.user !== undefined) member.user = context.user;
    if (envelope.info !== undefined) member.info = envelope.info;
    entry.present = true;
    await store.join(topic, member);
  } catch {
    // Redis down: a Redis store writes its local members again when it is back.
  }
}

/** `unsub` (or a close): out of the topic's presence, and no more news of it. */
export function leavePresence(conn: ProtocolConnection, topic: string): void {
  const entry = conn.presence?.topics.get(topic);
  if (!entry || !conn.presence) return;
  conn.presence.topics.delete(topic);
  entry.unwatch?.();
  if (entry.present) {
    try {
      const left = conn.settings.presence?.leave(topic, conn.presence.client);
      if (left instanceof Promise) left.catch(() => undefined);
    } catch {
      // As for a join: the store retries when its backend is back.
    }
  }
}

export function dropPresence(conn: ProtocolConnection): void {
  for (const topic of [...(conn.presence?.topics.keys() ?? [])]) leavePresence(conn, topic);
}

/** A `presence` request: `members`, or an `error` whose `ref` is the request's id. */
export async function answerPresence(conn: ProtocolConnection, envelope: PresenceEnvelope): Promise<void> {
  const { id, topic } = envelope;
  const store = conn.settings.presence;
  if (!validTopic(topic)) {
    conn.sendError(
      'ERR_INVALID_TOPIC',
      `presence.topic: expected 1-${MAX_TOPIC_LENGTH} characters`,
      undefined,
      id,
    );
    return;
  }
  if (!store) {
    conn.sendError('ERR_PRESENCE_OFF', 'this server keeps no presence', topic, id);
    return;
  }
  try {
    const refusal = await conn.settings.authorize?.('presence-read', topic, conn.hookContext());
    if (refusal) {
      conn.sendError(refusal.code, refusal.message, topic, id);
      return;
    }
    conn.send({ type: 'members', id, topic, clients: await store.members(topic) }, topic);
  } catch (error) {
    conn.sendError('ERR_UNAVAILABLE', `presence ${topic}: ${describeError(error)}`, topic, id);
  }
}
