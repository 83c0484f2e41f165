/**
 * A large JSON `pub` (kept as bytes, a RawJson, by the node that receives it) through the Redis hub: written
 * as its value, so subscribers on another node, JSON or MessagePack, and a replay from the Redis history get
 * the same value the publisher sent (never a RawJson's own fields).
 */
import { describe, expect, it } from 'vitest';
import { type RunningServer, startNodeServer } from '../../server/node.ts';
import { createProtocol } from '../../server/protocol/index.ts';
import { RedisLink } from '../../server/redis/connection.ts';
import { RedisHub } from '../../server/redis/hub.ts';
import { rawProtocolClient } from '../raw-protocol-client.ts';
import { deletePrefix, SHARED_REDIS_URL, scaleTestHooks, uniquePrefix } from './support/redis.ts';

const defer = scaleTestHooks();

async function node(prefix: string): Promise<RunningServer> {
  const link = new RedisLink({ url: SHARED_REDIS_URL, prefix, log: () => undefined });
  await link.start();
  const hub = new RedisHub(link);
  const protocol = createProtocol({ hub, heartbeatMs: 60_000 });
  const server = await startNodeServer({
    onConnection: protocol.onConnection,
    limits: { maxMessageBytes: 2 * 1024 * 1024 },
  });
  defer(async () => {
    await server.close();
    protocol.close();
    await hub.close();
    await link.close();
  });
  return server;
}

function connect(server: RunningServer, codec: 'json' | 'msgpack') {
  return rawProtocolClient(server.url, codec, (ws) => defer(() => ws.terminate()));
}

describe('large JSON messages through the Redis hub', () => {
  it('a RawJson published on one node reaches the other with its value, live and from history', async () => {
    const prefix = uniquePrefix('rawjson');
    defer(() => deletePrefix(SHARED_REDIS_URL, prefix));
    const a = await node(prefix);
    const b = await node(prefix);
    const onB = await connect(b, 'json');
    const packedOnB = await connect(b, 'msgpack');
    onB.send({ type: 'sub', topic: 'doc' });
    packedOnB.send({ type: 'sub', topic: 'doc' });
    await onB.next('reset');
    await packedOnB.next('reset');
    const publisher = await connect(a, 'json');
    const data = {
      title: 'é'.repeat(1000),
      rows: Array.from({ length: 5000 }, (_, i) => ({ i, s: `row ${i}`, f: i / 3 })),
    };
    publisher.send({ type: 'pub', id: 'p1', topic: 'doc', data });
    await publisher.next('ack');
    expect(await onB.next('msg')).toEqual({ type: 'msg', topic: 'doc', seq: 1, data });
    expect(await packedOnB.next('msg')).toEqual({ type: 'msg', topic: 'doc', seq: 1, data });
    const late = await connect(b, 'json');
    late.send({ type: 'sub', topic: 'doc', since: 0 });
    expect(await late.next('msg')).toEqual({ type: 'msg', topic: 'doc', seq: 1, data });
  });
});
