/**
 * The remembered baseline (./baseline.ts) on the embedded hub and session: a subscription without a position is
 * answered only once its baseline is remembered; a later one on the same session starts from that baseline and
 * gets everything since, in order; a position or the store failing change that as documented. (Across nodes,
 * with the Redis session store: test/scale/guarantees.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../src/errors.ts';
import type { HubEvent } from '../hub/hub.ts';
import { MemoryHub } from '../hub/memory.ts';
import { subscribeRemembered } from './baseline.ts';
import { type Baseline, MemorySession, type Session } from './sessions.ts';

const brief = (events: HubEvent[]) =>
  events.map((e) =>
    e.type === 'msg' ? `msg ${e.seq}` : e.type === 'reset' ? `${e.reason} ${e.seq}` : e.type,
  );

describe('the remembered baseline', () => {
  it('the first answer is remembered; a later sub without a position starts from it, nothing skipped', async () => {
    const hub = new MemoryHub();
    for (let i = 0; i < 3; i++) hub.publish('t', i);
    const session = new MemorySession('s', 64, 3);
    const first: HubEvent[] = [];
    const lost = await subscribeRemembered(hub, session, 't', undefined, undefined, (e) => first.push(e));
    expect(brief(first)).toEqual(['subscribed 3']);
    expect(session.baseline('t')).toMatchObject({ seq: 3 });
    // That answer never reached the client; its link is gone. Meanwhile two more messages.
    lost.unsubscribe();
    hub.publish('t', 3);
    hub.publish('t', 4);
    const later: HubEvent[] = [];
    await subscribeRemembered(hub, session, 't', undefined, undefined, (e) => later.push(e));
    expect(brief(later)).toEqual(['subscribed 3', 'msg 4', 'msg 5']);
    hub.publish('t', 5);
    expect(brief(later).at(-1)).toBe('msg 6');
  });

  it('a position, or an explicit forget (unsub), drops the record', async () => {
    const hub = new MemoryHub();
    const session = new MemorySession('s', 64, 3);
    await subscribeRemembered(hub, session, 't', undefined, undefined, () => undefined);
    expect(session.baseline('t')).toBeDefined();
    await subscribeRemembered(hub, session, 't', 0, undefined, () => undefined);
    expect(session.baseline('t')).toBeUndefined();
  });

  it('what history no longer has is a reset after the remembered baseline, never a silent skip', async () => {
    const hub = new MemoryHub({ historySize: 2 });
    const session = new MemorySession('s', 64, 3);
    await subscribeRemembered(hub, session, 't', undefined, undefined, () => undefined);
    for (let i = 0; i < 5; i++) hub.publish('t', i);
    const later: HubEvent[] = [];
    await subscribeRemembered(hub, session, 't', undefined, undefined, (e) => later.push(e));
    expect(brief(later)).toEqual(['subscribed 0', 'history-gap 5']);
  });

  it('holds the answer until the record is written, in order; nothing leaves when the record fails', async () => {
    const hub = new MemoryHub();
    hub.publish('t', 0);
    type Write = { resolve: () => void; reject: (e: unknown) => void };
    let write: Write | undefined;
    const current = () => write as Write | undefined;
    const slow: Session = {
      id: 's',
      dedup: () => {
        throw new Error('unused');
      },
      baseline: () => Promise.resolve(undefined),
      rememberBaseline: (_topic: string, _baseline: Baseline) =>
        new Promise<void>((resolve, reject) => {
          write = { resolve, reject };
        }),
      forgetBaseline: () => undefined,
    };
    const events: HubEvent[] = [];
    const pending = subscribeRemembered(hub, slow, 't', undefined, undefined, (e) => events.push(e));
    await until(() => write !== undefined);
    hub.publish('t', 1);
    expect(events).toEqual([]);
    current()?.resolve();
    await pending;
    expect(brief(events)).toEqual(['subscribed 1', 'msg 2']);

    const failed: HubEvent[] = [];
    write = undefined;
    const refused = subscribeRemembered(hub, slow, 'u', undefined, undefined, (e) => failed.push(e));
    await until(() => write !== undefined);
    current()?.reject(new SwitchyardError('ERR_UNAVAILABLE', 'redis unavailable: down'));
    await expect(refused).rejects.toMatchObject({ code: 'ERR_UNAVAILABLE' });
    hub.publish('u', 1);
    expect(failed).toEqual([]);
  });
});

async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((r) => setTimeout(r, 1));
}
