/**
 * `GET /rt/api/presence` on two real nodes sharing Redis: a backend sees the clients of both nodes with their
 * info, the count follows a client leaving, and the route keeps the API's rules (no key or a wrong one: 401;
 * no topic: 400 with the field named).
 */
import { describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/index.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { startCluster } from '../scale/support/cluster.ts';
import { scaleTestHooks } from '../scale/support/redis.ts';
import { API_KEY, api } from './support.ts';

const defer = scaleTestHooks();

async function present(url: string, name: string) {
  const c = createClient({ url, transports: nodeTransports, order: ['websocket'], rememberRung: false });
  defer(() => c.dispose());
  const sub = c.subscribe('room', { info: { name } });
  await c.connect();
  return { client: c, sub };
}

describe('server API: presence', () => {
  it("lists every node's clients on a topic, and follows one leaving", { timeout: 30_000 }, async () => {
    const cluster = await startCluster(2, { env: { API_KEY } });
    defer(() => cluster.close());
    const [a, b] = cluster.nodes;
    await present(a!.url, 'ada');
    const bob = await present(b!.url, 'bob');
    const read = async () => (await api(a!.url, 'GET', '/rt/api/presence?topic=room')).body;
    await expect.poll(async () => (await read()).count, { timeout: 10_000 }).toBe(2);
    const body = (await read()) as { topic: string; clients: { client: string; info?: { name: string } }[] };
    expect(body.topic).toBe('room');
    expect(body.clients.map((m) => m.info?.name).sort()).toEqual(['ada', 'bob']);
    for (const m of body.clients) expect(m.client).toMatch(/^[0-9a-f]{24}$/);

    bob.sub.unsubscribe();
    await expect.poll(async () => (await read()).count, { timeout: 10_000 }).toBe(1);
    expect(await api(b!.url, 'GET', '/rt/api/presence?topic=empty')).toMatchObject({
      status: 200,
      body: { topic: 'empty', count: 0, clients: [] },
    });

    expect((await api(a!.url, 'GET', '/rt/api/presence?topic=room', undefined, { key: null })).status).toBe(
      401,
    );
    expect(
      (await api(a!.url, 'GET', '/rt/api/presence?topic=room', undefined, { key: `${API_KEY}x` })).status,
    ).toBe(401);
    expect(await api(a!.url, 'GET', '/rt/api/presence')).toMatchObject({
      status: 400,
      body: { error: 'ERR_INVALID', field: 'topic' },
    });
  });
});
