/**
 * The presence stores against one contract: join/leave/members/watch on MemoryPresence and on RedisPresence
 * with two "nodes" in one process (each its own RedisLink, as two processes would have): a join on one node is
 * news on the other, a member list is the same from both, and a node that vanished without a word (its
 * liveness key gone, its entries left behind) has its members purged by a survivor, each with a leave.
 */
import { describe, expect, it } from 'vitest';
import { MemoryPresence } from '../../server/presence/memory.ts';
import type { PresenceChange, PresenceStore } from '../../server/presence/store.ts';
import { RedisLink } from '../../server/redis/connection.ts';
import { RedisPresence } from '../../server/redis/presence.ts';
import { until } from '../client/harness.ts';
import { deletePrefix, SHARED_REDIS_URL, scaleTestHooks, uniquePrefix } from './support/redis.ts';

const defer = scaleTestHooks();

async function redisNodes(count: number, livenessMs = 1000) {
  const prefix = uniquePrefix('presence');
  defer(() => deletePrefix(SHARED_REDIS_URL, prefix));
  const out: { link: RedisLink; presence: RedisPresence }[] = [];
  for (let i = 0; i < count; i++) {
    const link = new RedisLink({ url: SHARED_REDIS_URL, prefix, livenessMs, log: () => undefined });
    await link.start();
    const presence = new RedisPresence(link, { sweepMs: 100 });
    defer(async () => {
      await presence.close();
      await link.close();
    });
    out.push({ link, presence });
  }
  return out;
}

async function eventually(predicate: () => Promise<boolean>, what: string): Promise<void> {
  const started = Date.now();
  while (!(await predicate())) {
    if (Date.now() - started > 15_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const names = (members: readonly { client: string }[]) => members.map((m) => m.client).sort();

describe.each([
  ['memory', async () => [new MemoryPresence()] as PresenceStore[]],
  ['redis, two nodes', async () => (await redisNodes(2)).map((n) => n.presence) as PresenceStore[]],
])('presence store: %s', (_, make) => {
  it('join, members, leave, and the news of each to watchers', async () => {
    const stores = await make();
    const a = stores[0]!;
    const b = stores[stores.length - 1]!;
    const heard: PresenceChange[] = [];
    const unwatch = await b.watch('room', (change) => heard.push(change));
    await a.join('room', { client: 'c1', user: 'ada', info: { name: 'Ada' } });
    await b.join('room', { client: 'c2', user: 'bob' });
    await a.join('other', { client: 'c3' });
    await until(() => heard.length === 2, 'two joins heard');
    expect(heard.map((c) => [c.action, c.topic, c.member.client])).toEqual([
      ['join', 'room', 'c1'],
      ['join', 'room', 'c2'],
    ]);
    expect(heard[0]!.member).toEqual({ client: 'c1', user: 'ada', info: { name: 'Ada' } });
    for (const store of stores) expect(names(await store.members('room'))).toEqual(['c1', 'c2']);
    await a.leave('room', 'c1');
    await a.leave('room', 'c1');
    await until(() => heard.length === 3, 'one leave heard');
    expect(heard[2]).toMatchObject({ action: 'leave', topic: 'room', member: { client: 'c1', user: 'ada' } });
    expect(names(await a.members('room'))).toEqual(['c2']);
    unwatch();
    await b.leave('room', 'c2');
    expect(await b.members('room')).toEqual([]);
    expect(heard).toHaveLength(3);
  });

  it('a leave sent right after its join (a connection that closed at once) leaves nothing behind', async () => {
    const [a] = await make();
    const joined = a!.join('brief', { client: 'c9' });
    await a!.leave('brief', 'c9');
    await joined;
    expect(await a!.members('brief')).toEqual([]);
  });
});

describe('RedisPresence: a node that died', () => {
  it("a survivor purges the dead node's members and announces each leave, within the liveness bound", async () => {
    const [a, b] = await redisNodes(2, 100);
    const heard: PresenceChange[] = [];
    await b!.presence.watch('room', (change) => heard.push(change));
    await a!.presence.join('room', { client: 'a1' });
    await a!.presence.join('room', { client: 'a2' });
    await a!.presence.join('lobby', { client: 'a1' });
    await b!.presence.join('room', { client: 'b1' });
    await until(() => heard.length === 3, 'three joins');
    // Node A vanishes: its liveness key stops being refreshed and its entries stay behind (as after SIGKILL).
    const gone = Date.now();
    a!.link.command.disconnect();
    a!.link.subscriber.disconnect();
    await until(() => heard.length === 5, 'two leaves');
    const elapsed = Date.now() - gone;
    expect(
      heard
        .slice(3)
        .map((c) => [c.action, c.member.client])
        .sort(),
    ).toEqual([
      ['leave', 'a1'],
      ['leave', 'a2'],
    ]);
    expect(names(await b!.presence.members('room'))).toEqual(['b1']);
    expect(await b!.presence.members('lobby')).toEqual([]);
    // 3 x livenessMs for the key to expire, then the next sweep: far below this bound unless broken.
    expect(elapsed).toBeLessThan(3 * 100 + 100 + 2000);
  });

  it('a node back after an outage writes its members again', async () => {
    const [a, b] = await redisNodes(2, 100);
    await a!.presence.join('room', { client: 'a1', info: { n: 1 } });
    // B purges A while A cannot reach Redis; A's connections are still there, so A restores them.
    a!.link.command.disconnect();
    a!.link.subscriber.disconnect();
    await eventually(async () => (await b!.presence.members('room')).length === 0, 'purged');
    await a!.link.command.connect();
    await a!.link.subscriber.connect();
    await until(() => a!.link.state === 'up', 'A up again');
    await eventually(async () => (await b!.presence.members('room')).length === 1, 'restored');
    expect(await b!.presence.members('room')).toEqual([{ client: 'a1', info: { n: 1 } }]);
  });
});
