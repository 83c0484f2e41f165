/**
 * A connection's subscriptions: `sub` (topic rule, per-connection cap, the app's permission, then the hub,
 * resuming from `since`/`epoch`, or from the session's remembered baseline: ./baseline.ts) and `unsub`. The
 * hub's answer may come after the client changed its mind or left: a subscription nobody wants any more is let
 * go at once.
 */
import { CloseCode } from '../../src/close-codes.ts';
import { isSwitchyardError } from '../../src/errors.ts';
import { subscribeRemembered } from './baseline.ts';
import type { ProtocolConnection } from './connection.ts';
import { deliverHubEvent } from './delivery.ts';
import { describeError, MAX_TOPIC_LENGTH, validTopic } from './outcomes.ts';
import type { Session } from './sessions.ts';

export async function subscribe(
  conn: ProtocolConnection,
  topic: string,
  since: number | undefined,
  epoch: string | undefined,
): Promise<void> {
  if (!validTopic(topic)) {
    conn.sendError('ERR_INVALID_TOPIC', `sub.topic: expected 1-${MAX_TOPIC_LENGTH} characters`);
    return;
  }
  conn.subs ??= new Map();
  const subscriptions = conn.subs;
  const settings = conn.settings;
  const previous = subscriptions.get(topic);
  if (!previous && subscriptions.size >= settings.maxSubscriptions) {
    conn.sendError(
      'ERR_TOO_MANY_SUBSCRIPTIONS',
      `at most ${settings.maxSubscriptions} topics per connection`,
      topic,
    );
    return;
  }
  const refusal = await settings.authorize?.('sub', topic, conn.hookContext());
  if (refusal) {
    conn.sendError(refusal.code, refusal.message, topic);
    return;
  }
  if (conn.closed) return;
  subscriptions.delete(topic);
  (await previous)?.unsubscribe();
  const pending = subscribeRemembered(settings.hub, conn.session as Session, topic, since, epoch, (event) =>
    deliverHubEvent(conn, event),
  ).then(
    (subscription) => {
      // Unsubscribed or closed while the hub was answering: let go at once.
      if (conn.closed || conn.subs?.get(topic) !== pending) {
        subscription.unsubscribe();
        return undefined;
      }
      return subscription;
    },
    (error: unknown) => {
      // Hub unreachable: close with a retryable code, the client re-subscribes from its position later.
      if (isSwitchyardError(error, 'ERR_UNAVAILABLE')) conn.close(CloseCode.TryAgainLater, error.message);
      else conn.sendError('ERR_HUB', `subscribe ${topic}: ${describeError(error)}`, topic);
      return undefined;
    },
  );
  subscriptions.set(topic, pending);
  await pending;
}

export function unsubscribe(conn: ProtocolConnection, topic: string): Promise<void> | undefined {
  conn.session?.forgetBaseline(topic, 'unsub');
  const pending = conn.subs?.get(topic);
  conn.subs?.delete(topic);
  return pending?.then((s) => s?.unsubscribe()).catch(() => undefined);
}

/** The connection is gone: every subscription it holds, or is still waiting for, is let go. */
export function dropSubscriptions(conn: ProtocolConnection): void {
  for (const pending of conn.subs?.values() ?? []) void pending.then((s) => s?.unsubscribe());
  conn.subs = undefined;
}
