/**
 * Going back up the ladder in the background: a client that landed below the best rung (QUIC was blocked
 * for a moment, a proxy misbehaved) probes the better rungs later, first after `afterMs`, then less and less
 * often. A probe runs the full handshake beside the current link and never disturbs it; only a probe that
 * passed replaces the current link (down is fast, up is careful).
 */
import { CloseCode } from '../close-codes.ts';
import type { Dialer } from './dialer.ts';
import { rungsAbove } from './ladder.ts';
import type { Link } from './link.ts';
import type { ClientOptions } from './types.ts';

export interface Climber {
  /** After connecting (or a failed probe): plan the next probe if a better rung exists. */
  schedule(): void;
  cancel(): void;
}

type ClimbOptions = Exclude<ClientOptions['climb'], false | undefined>;

export function createClimber(
  options: ClientOptions['climb'],
  dialer: Dialer,
  current: () => Link | undefined,
  /** Makes `link` current in place of `old`. */
  switchTo: (link: Link, old: Link) => void,
): Climber {
  const { afterMs = 10_000, maxMs = 5 * 60_000, timeoutMs = 5000 }: ClimbOptions = options || {};
  let delay = afterMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cancel = () => clearTimeout(timer);

  const climb = async (from: Link) => {
    const token = await dialer.token().catch(() => undefined);
    for (const offer of rungsAbove(dialer.ladder, from.kind)) {
      if (current() !== from) return;
      try {
        const link = await dialer.handshake(offer, timeoutMs, token, 'climb');
        if (current() !== from) return link.retire(CloseCode.Normal, 'climb no longer needed');
        delay = afterMs;
        return switchTo(link, from);
      } catch {
        // Try the next better rung; a failed probe never disturbs the current link.
      }
    }
    if (current() !== from) return;
    delay = Math.min(Math.max(1, delay) * 2, maxMs);
    schedule();
  };

  const schedule = () => {
    cancel();
    const link = current();
    if (options === false || !link) return;
    if (rungsAbove(dialer.ladder, link.kind).length) timer = setTimeout(() => void climb(link), delay);
    else delay = afterMs;
  };
  return { schedule, cancel };
}
