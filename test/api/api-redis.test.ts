/**
 * The server API on two real node processes sharing Redis (test/scale/support): a message published on node A
 * reaches a client on node B, an idempotent retry sent to the other node publishes nothing twice, a batch on
 * one node is history on the other, history past the age window is a `reset`, and every node refuses wrong
 * keys and bad bodies the same way.
 */
import { describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/index.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { until } from '../client/harness.ts';
import { startCluster } from '../scale/support/cluster.ts';
import { scaleTestHooks, startPrivateRedis } from '../scale/support/redis.ts';
import { API_KEY, api } from './support.ts';

const cleanup = scaleTestHooks();

async function twoNodes() {
  const cluster = await startCluster(2, { env: { API_KEY } });
  cleanup(() => cluster.close());
  const [a, b] = cluster.nodes.map((node) => node.url) as [string, string];
  return { cluster, a, b };
}

type Message = { seq: number; data: unknown };

async function poll(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('server API on two nodes with Redis', () => {
  it('publishes on one node to a client of the other; retries and batches are cluster-wide', async () => {
    const { a, b } = await twoNodes();
    const client = createClient({ url: b, transports: nodeTransports, rememberRung: false });
    cleanup(() => client.close());
    const seen: { seq: number | undefined; data: unknown }[] = [];
    client.on('message', (m) => seen.push({ seq: m.seq, data: m.data }));
    const sub = client.subscribe('orders');
    await until(() => sub.lastSeq !== undefined, 'subscribed on B');

    const first = await api(a, 'POST', '/rt/api/publish', { topic: 'orders', data: 'shipped', id: 'o-1' });
    expect(first).toMatchObject({ status: 200, body: { topic: 'orders', seq: 1 } });
    // The caller timed out and retried on the other node: same seq, nothing published twice.
    const retry = await api(b, 'POST', '/rt/api/publish', { topic: 'orders', data: 'shipped', id: 'o-1' });
    expect(retry.body).toEqual({ topic: 'orders', seq: 1 });
    await until(() => seen.length >= 1, 'delivery on B');

    const batch = await api(b, 'POST', '/rt/api/batch', {
      messages: [
        { topic: 'orders', data: 'paid', id: 'o-2' },
        { topic: 'user.1', data: 'hi', id: 'u-1' },
        { topic: 'orders', data: 'closed', id: 'o-3' },
      ],
    });
    expect(batch.body.results).toEqual([
      { topic: 'orders', seq: 2 },
      { topic: 'user.1', seq: 1 },
      { topic: 'orders', seq: 3 },
    ]);
    const again = await api(a, 'POST', '/rt/api/batch', {
      messages: [{ topic: 'orders', data: 'paid', id: 'o-2' }],
    });
    expect(again.body.results).toEqual([{ topic: 'orders', seq: 2 }]);
    await until(() => seen.length === 3, 'three deliveries on B');
    expect(seen).toEqual([
      { seq: 1, data: 'shipped' },
      { seq: 2, data: 'paid' },
      { seq: 3, data: 'closed' },
    ]);

    const history = await api(a, 'GET', '/rt/api/history?topic=orders');
    expect(history.body).toMatchObject({ topic: 'orders', head: 3, more: false });
    expect(history.body.messages).toEqual([
      { seq: 1, data: 'shipped' },
      { seq: 2, data: 'paid' },
      { seq: 3, data: 'closed' },
    ]);
    const page = await api(
      b,
      'GET',
      `/rt/api/history?topic=orders&since=1&limit=1&epoch=${history.body.epoch}`,
    );
    expect(page.body).toMatchObject({ messages: [{ seq: 2, data: 'paid' }], more: true });
    expect(page.body.reset).toBeUndefined();
  });

  it('answers history past the age window with a reset, and refuses bad input on every node', async () => {
    const { cluster, a, b } = await twoNodes();
    for (let i = 1; i <= 3; i++) await api(a, 'POST', '/rt/api/publish', { topic: 'old', data: i });
    // A day and an hour later (the window is 24 h): the three are past it; one new message is not.
    await cluster.setClock(25 * 60 * 60 * 1000);
    await api(b, 'POST', '/rt/api/publish', { topic: 'old', data: 4 });
    const gap = await api(b, 'GET', '/rt/api/history?topic=old&since=1');
    expect(gap.body).toMatchObject({ reset: 'history-gap', head: 4, messages: [{ seq: 4, data: 4 }] });
    const last = await api(a, 'GET', '/rt/api/history?topic=old&limit=10');
    expect(last.body.messages as Message[]).toEqual([{ seq: 4, data: 4 }]);
    expect(last.body.reset).toBeUndefined();
    const lost = await api(a, 'GET', '/rt/api/history?topic=old&since=3&epoch=not-this-one');
    expect(lost.body.reset).toBe('history-lost');

    for (const node of [a, b]) {
      const wrong = await api(
        node,
        'POST',
        '/rt/api/publish',
        { topic: 'old', data: 5 },
        { key: 'x'.repeat(32) },
      );
      expect(wrong).toMatchObject({ status: 401, body: { error: 'ERR_UNAUTHORIZED' } });
      const missing = await api(node, 'GET', '/rt/api/history?topic=old', undefined, { key: null });
      expect(missing.status).toBe(401);
      const malformed = await api(node, 'POST', '/rt/api/publish', undefined, { raw: '{"topic":' });
      expect(malformed).toMatchObject({ status: 400, body: { error: 'ERR_MALFORMED' } });
      const oversize = await api(node, 'POST', '/rt/api/publish', {
        topic: 'old',
        data: 'x'.repeat(1_100_000),
      });
      expect(oversize).toMatchObject({ status: 413, body: { error: 'ERR_TOO_LARGE' } });
      const metrics = await fetch(`${node}/rt/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } });
      expect(await metrics.text()).toMatch(/^switchyard_redis_up 1$/m);
    }
    expect((await api(a, 'GET', '/rt/api/history?topic=old')).body.head).toBe(4);
  });

  it('answers 503 while Redis is down, says per batch message what was published, and the metrics show it', async () => {
    const redis = await startPrivateRedis();
    cleanup(() => redis.stop());
    const cluster = await startCluster(1, {
      redisUrl: redis.url,
      env: { API_KEY, COMMAND_TIMEOUT_MS: '300' },
    });
    cleanup(() => cluster.close());
    const node = (cluster.nodes[0] as { url: string }).url;
    const metric = async (name: string) => {
      const text = await (
        await fetch(`${node}/rt/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } })
      ).text();
      return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    };
    expect(await metric('switchyard_redis_up')).toBe(1);
    await redis.kill();
    await poll(async () => (await metric('switchyard_redis_up')) === 0, 'redis down');
    const single = await api(node, 'POST', '/rt/api/publish', { topic: 'r', data: 1, id: 'r-1' });
    expect(single).toMatchObject({ status: 503, body: { error: 'ERR_UNAVAILABLE' } });
    expect(single.headers.get('retry-after')).toBe('1');
    const batch = await api(node, 'POST', '/rt/api/batch', {
      messages: [
        { topic: 'r', data: 1, id: 'r-1' },
        { topic: 's', data: 2, id: 's-1' },
      ],
    });
    expect(batch).toMatchObject({
      status: 503,
      body: {
        error: 'ERR_UNAVAILABLE',
        results: [
          { topic: 'r', error: 'ERR_UNAVAILABLE' },
          { topic: 's', error: 'ERR_UNAVAILABLE' },
        ],
      },
    });
    expect(await metric('switchyard_redis_errors_total')).toBeGreaterThanOrEqual(1);
    await redis.restart();
    await poll(async () => (await metric('switchyard_redis_up')) === 1, 'redis back');
    expect(await metric('switchyard_redis_reconnects_total')).toBeGreaterThanOrEqual(1);
    expect(await metric('switchyard_redis_epoch_changes_total')).toBeGreaterThanOrEqual(1);
    // The same batch again now goes through, once.
    const retried = await api(node, 'POST', '/rt/api/batch', {
      messages: [
        { topic: 'r', data: 1, id: 'r-1' },
        { topic: 's', data: 2, id: 's-1' },
      ],
    });
    expect(retried.body.results).toEqual([
      { topic: 'r', seq: 1 },
      { topic: 's', seq: 1 },
    ]);
  });
});
