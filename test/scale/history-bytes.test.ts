/**
 * The Redis publish script's byte budget for a topic's history (issue 20), against real Redis: a topic of large
 * messages keeps what fits the budget, not its count bound's worth, and a resume past what is kept is the
 * replay script's `history-gap`. Calls the scripts directly (the hub passes the budget as their last argument).
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { HubEvent } from '../../server/hub/hub.ts';
import { RedisLink } from '../../server/redis/connection.ts';
import { RedisHub } from '../../server/redis/hub.ts';
import { PUBLISH, REPLAY } from '../../server/redis/scripts.ts';
import { deletePrefix, SHARED_REDIS_URL, scaleTestHooks, uniquePrefix } from './support/redis.ts';

const defer = scaleTestHooks();

describe('Redis history bounded by bytes', () => {
  it('keeps what fits the budget, recounts once per quarter budget, and reports a trimmed position as a gap', async () => {
    const prefix = uniquePrefix('histbytes');
    const redis = new Redis(SHARED_REDIS_URL);
    defer(async () => {
      await deletePrefix(SHARED_REDIS_URL, prefix);
      redis.disconnect();
    });
    const keys = [`${prefix}{t}:m`, `${prefix}{t}:h`, `${prefix}{t}:c`, `${prefix}{t}:i`];
    const budget = 400_000;
    const publish = (data: Buffer, maxBytes: number) =>
      PUBLISH.exec(redis, keys, [data, Date.now(), 1000, 3_600_000, 3_600_000, 0, 'e1', maxBytes]);
    for (let i = 1; i <= 10; i++) await publish(Buffer.alloc(100_000, i), budget);
    const kept = await redis.xrange(keys[1]!, '-', '+');
    const bytes = kept.reduce((n, [, fields]) => n + Buffer.byteLength(fields[3]!), 0);
    expect(bytes).toBeLessThanOrEqual(budget);
    expect(kept.length).toBeGreaterThanOrEqual(3);
    expect(kept.at(-1)![0]).toBe('10-0');
    const oldest = Number(kept[0]![0].split('-')[0]);
    expect(Number(await redis.hget(keys[0]!, 'b'))).toBeLessThanOrEqual(budget);

    const replay = (since: number) =>
      REPLAY.exec(redis, keys.slice(0, 2), [
        since,
        Date.now(),
        3_600_000,
        100,
        'e1',
        3_600_000,
        'e1',
      ]) as Promise<Buffer[]>;
    expect(String((await replay(oldest - 1))[1])).toBe('ok');
    expect(String((await replay(oldest - 2))[1])).toBe('history-gap');

    // A message bigger than the whole budget is published but not kept; without a budget nothing is cut.
    await publish(Buffer.alloc(budget + 1, 1), budget);
    expect((await redis.xrange(keys[1]!, '-', '+')).map(([id]) => id)).not.toContain('11-0');
    await publish(Buffer.alloc(budget + 1, 2), 0);
    expect((await redis.xrange(keys[1]!, '-', '+')).map(([id]) => id)).toContain('12-0');
  });
});

describe('RedisHub historyBytes', () => {
  it('passes the budget to the script: a resume past the kept bytes is a history-gap reset', async () => {
    const prefix = uniquePrefix('histbyteshub');
    defer(() => deletePrefix(SHARED_REDIS_URL, prefix));
    const link = new RedisLink({ url: SHARED_REDIS_URL, prefix, log: () => undefined });
    await link.start();
    const hub = new RedisHub(link, { historyBytes: 300_000 });
    defer(async () => {
      await hub.close();
      await link.close();
    });
    for (let i = 1; i <= 8; i++) await hub.publish('t', 'x'.repeat(100_000));
    const events: HubEvent[] = [];
    const sub = await hub.subscribe('t', 1, (e) => events.push(e));
    sub.unsubscribe();
    expect(events).toMatchObject([{ type: 'reset', seq: 8, reason: 'history-gap' }]);
  });
});
