import { describe, expect, it } from 'vitest';
import type { HubEvent } from './hub.ts';
import { MemoryHub } from './memory.ts';

function collect(): { events: HubEvent[]; listener: (e: HubEvent) => void } {
  const events: HubEvent[] = [];
  return { events, listener: (e) => events.push(e) };
}

describe('MemoryHub', () => {
  it('numbers messages per topic from 1 and fans out in order', async () => {
    const hub = new MemoryHub();
    const a = collect();
    await hub.subscribe('t', undefined, a.listener);
    expect(await hub.publish('t', 'x')).toBe(1);
    expect(await hub.publish('u', 'y')).toBe(1);
    expect(await hub.publish('t', 'z')).toBe(2);
    expect(a.events).toEqual([
      { type: 'reset', topic: 't', seq: 0, reason: 'subscribed', epoch: expect.any(String) },
      { type: 'msg', topic: 't', seq: 1, data: 'x' },
      { type: 'msg', topic: 't', seq: 2, data: 'z' },
    ]);
  });

  it('replays history after `since`; resets on a trimmed gap or a position ahead of the head', async () => {
    const hub = new MemoryHub({ historySize: 3 });
    for (let i = 1; i <= 5; i++) await hub.publish('t', i);
    const fits = collect();
    await hub.subscribe('t', 2, fits.listener);
    expect(fits.events.map((e) => (e.type === 'msg' ? e.seq : e.type))).toEqual([3, 4, 5]);
    const gap = collect();
    await hub.subscribe('t', 1, gap.listener);
    expect(gap.events).toMatchObject([{ type: 'reset', topic: 't', seq: 5, reason: 'history-gap' }]);
    const ahead = collect();
    await hub.subscribe('t', 9, ahead.listener);
    expect(ahead.events).toMatchObject([{ type: 'reset', topic: 't', seq: 5, reason: 'ahead-of-history' }]);
    const upToDate = collect();
    await hub.subscribe('t', 5, upToDate.listener);
    expect(upToDate.events).toEqual([]);
  });

  it('keeps large bytes handed over with `publish` as they are, and copies the ones that were not', async () => {
    const hub = new MemoryHub();
    const handed = new Uint8Array(65_536).fill(1);
    const lent = new Uint8Array(65_536).fill(2);
    await hub.publish('t', handed, { handedOver: true });
    await hub.publish('t', lent);
    lent.fill(0);
    const replay = collect();
    await hub.subscribe('t', 0, replay.listener);
    const [first, second] = replay.events.map((e) => (e.type === 'msg' ? e.data : undefined));
    expect(first).toBe(handed);
    expect(second).not.toBe(lent);
    expect((second as Uint8Array).every((byte) => byte === 2)).toBe(true);
  });

  it('unsubscribe stops delivery; a throwing listener does not stop the others', async () => {
    const hub = new MemoryHub();
    const a = collect();
    await hub.subscribe('t', 0, () => {
      throw new Error('bad listener');
    });
    const sub = await hub.subscribe('t', 0, a.listener);
    await hub.publish('t', 1);
    sub.unsubscribe();
    await hub.publish('t', 2);
    expect(a.events.map((e) => (e.type === 'msg' ? e.seq : e.type))).toEqual([1]);
  });

  it('keeps at most maxTopics, forgetting idle topics first', async () => {
    const hub = new MemoryHub({ maxTopics: 2 });
    await hub.subscribe('kept', undefined, () => undefined);
    await hub.publish('a', 1);
    await hub.publish('b', 1);
    expect(hub.topicCount).toBe(2);
    expect(await hub.head('kept')).toBe(0);
    expect(await hub.head('a')).toBe(0); // forgotten
    expect(await hub.head('b')).toBe(1);
  });
});

describe('MemoryHub epochs', () => {
  it('a position from another epoch of the topic is a history-lost reset, even below the head', async () => {
    const hub = new MemoryHub();
    const first = collect();
    await hub.subscribe('t', undefined, first.listener);
    const baseline = first.events[0] as Extract<HubEvent, { type: 'reset' }>;
    expect(baseline).toMatchObject({ type: 'reset', seq: 0, reason: 'subscribed' });
    expect(baseline.epoch).toMatch(/^[A-Za-z0-9_-]{11}$/);
    for (let i = 1; i <= 5; i++) hub.publish('t', i);
    // The same epoch resumes; another one (a restarted or evicted topic) does not, whatever the numbers say.
    const same = collect();
    await hub.subscribe('t', 3, same.listener, baseline.epoch);
    expect(same.events.map((e) => (e.type === 'msg' ? e.seq : e.type))).toEqual([4, 5]);
    const other = collect();
    await hub.subscribe('t', 3, other.listener, 'another-epoch');
    expect(other.events).toEqual([
      { type: 'reset', topic: 't', seq: 5, reason: 'history-lost', epoch: baseline.epoch },
    ]);
    // A restart is a new hub: every topic starts a new epoch.
    const restarted = new MemoryHub();
    for (let i = 1; i <= 9; i++) restarted.publish('t', i);
    const back = collect();
    await restarted.subscribe('t', 3, back.listener, baseline.epoch);
    expect(back.events).toMatchObject([{ type: 'reset', seq: 9, reason: 'history-lost' }]);
  });
  it('bounds history by bytes as well as count: a topic of 1 MiB messages keeps 4 by default', async () => {
    const hub = new MemoryHub();
    const big = (i: number) => `${i}é`.padEnd(1024 * 1024 - 8, 'x');
    for (let i = 1; i <= 10; i++) await hub.publish('t', big(i));
    const resumed = collect();
    await hub.subscribe('t', 6, resumed.listener);
    expect(resumed.events.map((e) => (e.type === 'msg' ? e.seq : e.type))).toEqual([7, 8, 9, 10]);
    expect(resumed.events.map((e) => (e.type === 'msg' ? e.data : undefined))).toEqual(
      [7, 8, 9, 10].map(big),
    );
    const gap = collect();
    await hub.subscribe('t', 5, gap.listener);
    expect(gap.events).toMatchObject([{ type: 'reset', seq: 10, reason: 'history-gap' }]);
  });

  it('a message bigger than the byte budget is delivered live but not kept; large text replays exactly', async () => {
    const hub = new MemoryHub({ historyBytes: 64 * 1024 });
    const live = collect();
    await hub.subscribe('t', undefined, live.listener);
    const lone = `\ud800${'x'.repeat(20_000)}`;
    const text = '€𝄞'.repeat(5000);
    await hub.publish('t', lone);
    await hub.publish('t', text);
    await hub.publish('t', { blob: 'y'.repeat(70_000) });
    expect(live.events.filter((e) => e.type === 'msg')).toHaveLength(3);
    const resumed = collect();
    await hub.subscribe('t', 0, resumed.listener);
    // The 70 KB object went past the budget alone: nothing before it fits with it, and it is not kept.
    expect(resumed.events).toMatchObject([{ type: 'reset', seq: 3, reason: 'history-gap' }]);
    await hub.publish('t', lone);
    await hub.publish('t', text);
    const again = collect();
    await hub.subscribe('t', 3, again.listener);
    expect(again.events.map((e) => (e.type === 'msg' ? e.data : e.type))).toEqual([lone, text]);
  });
});
