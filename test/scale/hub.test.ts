/**
 * The Redis hub against real Redis, two "nodes" in one process (each its own pair of connections, as two
 * processes would have): one cluster-wide sequence per topic in publish order, one event object per message
 * per node, replay + live join without gap or duplicate under concurrent publishing, trimming by count and by
 * age (injected clock), idempotent re-publish, volatile fan-out, and recovery from a killed subscriber
 * connection (pub/sub loses what was published meanwhile; the node reads it back from the Stream).
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { HubEvent } from '../../server/hub/hub.ts';
import { RedisLink } from '../../server/redis/connection.ts';
import { RedisHub, type RedisHubOptions } from '../../server/redis/hub.ts';
import { until } from '../client/harness.ts';
import { deletePrefix, SHARED_REDIS_URL, scaleTestHooks, uniquePrefix } from './support/redis.ts';

const defer = scaleTestHooks();

async function nodes(
  count: number,
  options: RedisHubOptions = {},
): Promise<{ link: RedisLink; hub: RedisHub }[]> {
  const prefix = uniquePrefix('hub');
  defer(() => deletePrefix(SHARED_REDIS_URL, prefix));
  const out: { link: RedisLink; hub: RedisHub }[] = [];
  for (let i = 0; i < count; i++) {
    const link = new RedisLink({ url: SHARED_REDIS_URL, prefix, log: () => undefined });
    await link.start();
    const hub = new RedisHub(link, options);
    defer(async () => {
      await hub.close();
      await link.close();
    });
    out.push({ link, hub });
  }
  return out;
}

function collect(): { events: HubEvent[]; seqs: () => number[]; listener: (e: HubEvent) => void } {
  const events: HubEvent[] = [];
  return {
    events,
    seqs: () => events.filter((e) => e.type === 'msg').map((e) => (e as { seq: number }).seq),
    listener: (e) => events.push(e),
  };
}

describe('RedisHub across nodes', () => {
  it('one ordered stream on every node; seq assigned once; one event object per message per node', async () => {
    const [a, b] = await nodes(2);
    const onA1 = collect();
    const onA2 = collect();
    const onB = collect();
    await a!.hub.subscribe('room', undefined, onA1.listener);
    await a!.hub.subscribe('room', undefined, onA2.listener);
    await b!.hub.subscribe('room', undefined, onB.listener);
    // Both nodes publish at once, without waiting: the sequence is still one, gap-free, cluster-wide.
    const seqs = await Promise.all(
      Array.from({ length: 400 }, (_, i) => (i % 2 ? a! : b!).hub.publish('room', { i })),
    );
    expect([...seqs].sort((x, y) => x - y)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    await until(() => onB.seqs().length === 400 && onA1.seqs().length === 400, 'all delivered');
    const expected = Array.from({ length: 400 }, (_, i) => i + 1);
    expect(onA1.seqs()).toEqual(expected);
    expect(onB.seqs()).toEqual(expected);
    // The data behind each seq is the same on both nodes.
    const dataA = onA1.events.filter((e) => e.type === 'msg').map((e) => JSON.stringify(e));
    const dataB = onB.events.filter((e) => e.type === 'msg').map((e) => JSON.stringify(e));
    expect(dataA).toEqual(dataB);
    // Same object for both listeners of node A: the protocol encodes it once.
    const a1 = onA1.events.filter((e) => e.type === 'msg');
    const a2 = onA2.events.filter((e) => e.type === 'msg');
    expect(a1.every((e, i) => e === a2[i])).toBe(true);
    expect(await b!.hub.head('room')).toBe(400);
  });

  it('joins with `since` while others publish: history then live, no gap, no duplicate', async () => {
    const [a, b] = await nodes(2);
    for (let i = 0; i < 50; i++) await a!.hub.publish('t', { i });
    let publishing = true;
    const producer = (async () => {
      while (publishing) await a!.hub.publish('t', { live: true });
    })();
    const joiners = Array.from({ length: 6 }, () => collect());
    for (const [i, joiner] of joiners.entries()) {
      await b!.hub.subscribe('t', i * 5, joiner.listener);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    publishing = false;
    await producer;
    const head = await a!.hub.head('t');
    for (const [i, joiner] of joiners.entries()) {
      await until(() => joiner.seqs().at(-1) === head, `joiner ${i} caught up`);
      expect(joiner.seqs()).toEqual(Array.from({ length: head - i * 5 }, (_, k) => i * 5 + k + 1));
    }
  });

  it('a topic whose keys were lost (a Redis restart without persistence) starts a new epoch: no silent gap', async () => {
    const [a] = await nodes(1);
    const first = collect();
    await a!.hub.subscribe('t', undefined, first.listener);
    const baseline = first.events[0] as Extract<HubEvent, { type: 'reset' }>;
    for (let i = 0; i < 3; i++) await a!.hub.publish('t', i);
    // Same epoch: resumes from the position.
    const same = collect();
    await a!.hub.subscribe('t', 1, same.listener, baseline.epoch);
    expect(same.seqs()).toEqual([2, 3]);
    // Redis loses the topic (restart, nothing on disk), and the new numbering passes the old position.
    const redis = new Redis(SHARED_REDIS_URL);
    await redis.del(a!.link.key('seq', 't'), a!.link.key('hist', 't'));
    redis.disconnect();
    for (let i = 0; i < 10; i++) await a!.hub.publish('t', `new ${i}`);
    const back = collect();
    await a!.hub.subscribe('t', 3, back.listener, baseline.epoch);
    expect(back.events).toHaveLength(1);
    expect(back.events[0]).toMatchObject({ type: 'reset', seq: 10, reason: 'history-lost' });
    expect((back.events[0] as { epoch: string }).epoch).not.toBe(baseline.epoch);
  });

  it('reset: subscribed at head, ahead of history, gap after count trim, gap after the age window', async () => {
    let now = Date.UTC(2026, 0, 1);
    const [a] = await nodes(1, { historySize: 10, historyWindowMs: 24 * 3600_000, now: () => now });
    for (let i = 0; i < 200; i++) await a!.hub.publish('t', i);
    const fresh = collect();
    await a!.hub.subscribe('t', undefined, fresh.listener);
    expect(fresh.events[0]).toMatchObject({ type: 'reset', seq: 200, reason: 'subscribed' });
    const ahead = collect();
    await a!.hub.subscribe('t', 500, ahead.listener);
    expect(ahead.events[0]).toMatchObject({ type: 'reset', seq: 200, reason: 'ahead-of-history' });
    const trimmed = collect();
    await a!.hub.subscribe('t', 1, trimmed.listener);
    expect(trimmed.events[0]).toMatchObject({ type: 'reset', seq: 200, reason: 'history-gap' });
    const recent = collect();
    await a!.hub.subscribe('t', 195, recent.listener);
    expect(recent.seqs()).toEqual([196, 197, 198, 199, 200]);
    // Two hours later the window still holds them; 25 hours later it does not.
    now += 2 * 3600_000;
    const later = collect();
    await a!.hub.subscribe('t', 195, later.listener);
    expect(later.seqs()).toEqual([196, 197, 198, 199, 200]);
    now += 23 * 3600_000;
    const expired = collect();
    await a!.hub.subscribe('t', 195, expired.listener);
    expect(expired.events).toMatchObject([{ type: 'reset', topic: 't', seq: 200, reason: 'history-gap' }]);
    // The next publish trims the expired entries by age.
    await a!.hub.publish('t', 'new');
    const redis = new Redis(SHARED_REDIS_URL);
    const length = await redis.xlen(a!.link.key('hist', 't'));
    redis.disconnect();
    expect(length).toBe(1);
  });

  it('an idempotency key makes a re-sent publish a no-op with the same seq', async () => {
    const [a, b] = await nodes(2);
    const seen = collect();
    await b!.hub.subscribe('t', undefined, seen.listener);
    const first = await a!.hub.publish('t', 'x', { idempotencyKey: 'session/1' });
    const again = await b!.hub.publish('t', 'x', { idempotencyKey: 'session/1' });
    const other = await b!.hub.publish('t', 'y', { idempotencyKey: 'session/2' });
    expect([first, again, other]).toEqual([1, 1, 2]);
    await until(() => seen.seqs().length === 2, 'delivered');
    expect(seen.seqs()).toEqual([1, 2]);
  });

  it('volatile messages reach current subscribers on every node, without seq or history', async () => {
    const [a, b] = await nodes(2);
    const onB = collect();
    await b!.hub.subscribe('cursor', undefined, onB.listener);
    await a!.hub.publishVolatile('cursor', { x: 1, bytes: new Uint8Array([1, 2, 3]) });
    await until(() => onB.events.some((e) => e.type === 'volatile'), 'volatile arrived');
    const event = onB.events.find((e) => e.type === 'volatile') as { data: { bytes: Uint8Array } };
    expect([...event.data.bytes]).toEqual([1, 2, 3]);
    expect(await a!.hub.head('cursor')).toBe(0);
  });

  it('a killed subscriber connection loses pub/sub messages; the node reads them back, in order', async () => {
    // History large enough for however long the outage lasts on a busy machine (else the catch-up is a reset).
    const [a, b] = await nodes(2, { historySize: 1_000_000 });
    const onB = collect();
    await b!.hub.subscribe('t', undefined, onB.listener);
    let publishing = true;
    let published = 0;
    const producer = (async () => {
      while (publishing) {
        await a!.hub.publish('t', published);
        published++;
      }
    })();
    await until(() => onB.seqs().length > 50, 'flowing');
    const admin = new Redis(SHARED_REDIS_URL);
    await admin.client('KILL', 'ID', String(await b!.link.subscriber.client('ID')));
    const atKill = published;
    await until(() => b!.link.health().outages === 1, 'node B noticed');
    await until(() => b!.link.state === 'up' && onB.seqs().length > atKill + 50, 'recovered');
    publishing = false;
    await producer;
    admin.disconnect();
    await until(() => onB.seqs().at(-1) === published, 'caught up');
    expect(onB.seqs()).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    expect(onB.events.filter((e) => e.type === 'reset').map((e) => (e as { reason: string }).reason)).toEqual(
      ['subscribed'],
    );
    expect(b!.hub.stats.catchUps).toBeGreaterThan(0);
  });
});
