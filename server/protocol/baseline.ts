/**
 * The remembered baseline (issue 16). A `sub` without a position starts at the topic's head, and the server's
 * first answer (a `reset` with reason `subscribed`) tells the client where that is. If the link drops before
 * that answer arrives, the client has no position, and its next `sub` would start at a later head: what was
 * published in between would be skipped. So the session remembers where each such subscription started,
 * before the answer leaves (in the session store: this process's memory, or Redis for every node), and a later
 * `sub` without a position on the same session, on any connection and any node, starts from there: the same
 * first answer again, then everything published since, in order; a `reset` only if that is really gone
 * (trimmed from history, another epoch). A `sub` with a position, or an `unsub`, makes the record unneeded.
 */
import type { Hub, HubEvent, HubListener, HubSubscription } from '../hub/hub.ts';
import type { Session } from './sessions.ts';

export function subscribeRemembered(
  hub: Hub,
  session: Session,
  topic: string,
  since: number | undefined,
  epoch: string | undefined,
  listener: HubListener,
): Promise<HubSubscription> {
  if (since !== undefined) {
    session.forgetBaseline(topic, 'position');
    return hub.subscribe(topic, since, listener, epoch);
  }
  const remembered = session.baseline(topic);
  return remembered instanceof Promise
    ? remembered.then((baseline) => (baseline ? fill(baseline) : fresh()))
    : remembered
      ? fill(remembered)
      : fresh();

  /** The first answer, as it was meant to arrive, then the hub's replay after it (or its reset). */
  function fill(baseline: { seq: number; epoch: string }): Promise<HubSubscription> {
    listener({ type: 'reset', topic, seq: baseline.seq, reason: 'subscribed', epoch: baseline.epoch });
    return hub.subscribe(topic, baseline.seq, listener, baseline.epoch);
  }

  /** Holds the hub's events until the baseline its first answer names is remembered. */
  async function fresh(): Promise<HubSubscription> {
    /** Events waiting for the record; undefined once they flow; null once dropped (the record failed). */
    let held: HubEvent[] | undefined | null = [];
    let recording = false;
    let release: () => void = () => undefined;
    let fail: (error: unknown) => void = () => undefined;
    const recorded = new Promise<void>((resolve, reject) => {
      release = resolve;
      fail = reject;
    });
    // Awaited below unless the hub refuses first; a record failing after that is nobody's to report.
    recorded.catch(() => undefined);
    const subscription = await hub.subscribe(topic, undefined, (event) => {
      if (held === undefined) return listener(event);
      if (held === null) return;
      held.push(event);
      if (recording || event.type !== 'reset') return;
      recording = true;
      try {
        Promise.resolve(session.rememberBaseline(topic, { seq: event.seq, epoch: event.epoch })).then(
          release,
          fail,
        );
      } catch (error) {
        fail(error);
      }
    });
    try {
      await recorded;
    } catch (error) {
      // Not remembered: nothing of it may reach the client (a retryable close follows, and a later `sub`).
      held = null;
      subscription.unsubscribe();
      throw error;
    }
    const events = held ?? [];
    held = undefined;
    for (const event of events) listener(event);
    return subscription;
  }
}
