/**
 * Bad input against a Redis-backed node (a real process, a raw `ws` client so that nothing client-side filters
 * it), each with its documented outcome and nothing left behind in Redis:
 * - a message over maxMessageBytes: closed with 1009 MessageTooBig, nothing published;
 * - topic names outside 1-256 characters: ERR_INVALID_TOPIC per operation, no key or channel created; any other
 *   name (colons, braces, glob characters) is just a name, namespaced under the node's prefix;
 * - a client subscribing to 100,000 topics: the first 256 are followed, each one after that is refused with
 *   ERR_TOO_MANY_SUBSCRIPTIONS; sent all at once the flood is cut with 1013 TryAgainLater when more than 1024
 *   messages wait; either way the node lets go of every Redis channel when the client leaves.
 * (A slow Redis is in faults.test.ts: 1013, then the re-sent message is applied once.)
 */
import { Redis } from 'ioredis';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CloseCode } from '../../src/close-codes.ts';
import { type Cluster, startCluster } from './support/cluster.ts';
import { requireRedis, SHARED_REDIS_URL } from './support/redis.ts';

let cluster: Cluster | undefined;
const sockets: WebSocket[] = [];
beforeAll(() => requireRedis());
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  await cluster?.close();
  cluster = undefined;
});

interface Raw {
  readonly ws: WebSocket;
  readonly inbox: { type: string; code?: string; topic?: string; ref?: string }[];
  readonly closed: Promise<number>;
  send(envelope: object): void;
}

async function raw(url: string): Promise<Raw> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/rt/ws`, 'switchyard.v1');
  sockets.push(ws);
  const inbox: Raw['inbox'] = [];
  // The WebSocket rung frames text as `<channel>:<envelope>`; the default channel is the empty name.
  ws.on('message', (data) => {
    const text = String(data);
    inbox.push(JSON.parse(text.slice(text.indexOf(':') + 1)));
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const send = (envelope: object) => ws.send(`:${JSON.stringify(envelope)}`);
  send({ type: 'hello', v: 1 });
  const deadline = Date.now() + 5000;
  while (!inbox.some((m) => m.type === 'welcome') && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 5));
  return { ws, inbox, closed, send };
}

async function waitFor(what: string, predicate: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function keysAndChannels(prefix: string): Promise<{ keys: string[]; channels: string[] }> {
  const redis = new Redis(SHARED_REDIS_URL);
  const keys = (await redis.keys(`${prefix}:seq:*`)).concat(await redis.keys(`${prefix}:hist:*`));
  const channels = (await redis.pubsub('CHANNELS', `${prefix}:chan:*`)) as string[];
  redis.disconnect();
  return { keys, channels };
}

describe('bad input on a Redis-backed node', () => {
  it('oversize: 1009, nothing published', async () => {
    cluster = await startCluster(1);
    const client = await raw(cluster.nodes[0]!.url);
    client.send({ type: 'pub', id: 'big', topic: 'room', data: 'x'.repeat(1024 * 1024 + 10) });
    expect(await client.closed).toBe(CloseCode.MessageTooBig);
    expect((await keysAndChannels(cluster.prefix)).keys).toEqual([]);
  });

  it('invalid topic names are refused per operation; odd but valid names are just names', async () => {
    cluster = await startCluster(1);
    const client = await raw(cluster.nodes[0]!.url);
    client.send({ type: 'sub', topic: '' });
    client.send({ type: 'sub', topic: 't'.repeat(257) });
    client.send({ type: 'pub', id: 'p1', topic: '', data: 1 });
    client.send({ type: 'pub', id: 'p2', topic: 'u'.repeat(257), data: 1 });
    const odd = 'a:b{c}*?[x]';
    client.send({ type: 'sub', topic: odd });
    client.send({ type: 'pub', id: 'p3', topic: odd, data: 'ok' });
    await waitFor('answers', () => client.inbox.some((m) => m.type === 'msg'));
    const errors = client.inbox.filter((m) => m.type === 'error');
    expect(errors.map((e) => e.code)).toEqual(Array(4).fill('ERR_INVALID_TOPIC'));
    expect(errors.filter((e) => e.ref).map((e) => e.ref)).toEqual(['p1', 'p2']);
    expect(client.inbox.find((m) => m.type === 'msg')).toMatchObject({ topic: odd, data: 'ok' });
    const { keys } = await keysAndChannels(cluster.prefix);
    expect(keys.sort()).toEqual([`${cluster.prefix}:hist:${odd}`, `${cluster.prefix}:seq:${odd}`]);
  });

  it('100,000 topics: 256 followed, the rest refused, or the flood cut with 1013; channels released', {
    timeout: 60_000,
  }, async () => {
    cluster = await startCluster(1);
    const url = cluster.nodes[0]!.url;
    // 300 at once, below the 1024 waiting bound: processed in order, the first 256 followed.
    const paced = await raw(url);
    for (let i = 0; i < 300; i++) paced.send({ type: 'sub', topic: `p${i}` });
    await waitFor(
      '300 answers',
      () => paced.inbox.filter((m) => m.type === 'reset' || m.type === 'error').length >= 300,
    );
    expect(paced.inbox.filter((m) => m.type === 'reset')).toHaveLength(256);
    const refused = paced.inbox.filter((m) => m.type === 'error');
    expect(refused).toHaveLength(44);
    expect(new Set(refused.map((e) => e.code))).toEqual(new Set(['ERR_TOO_MANY_SUBSCRIPTIONS']));
    expect((await keysAndChannels(cluster.prefix)).channels).toHaveLength(256);
    paced.ws.close();

    // A flood: 100,000 subscriptions written at once.
    const flood = await raw(url);
    const batch: string[] = [];
    for (let i = 0; i < 100_000; i++) batch.push(`:${JSON.stringify({ type: 'sub', topic: `f${i}` })}`);
    // In slices of 5,000 with a turn of the event loop between: still far faster than the node handles them,
    // but this process reads the node's close frame in time (one synchronous loop of 100,000 sends could
    // outlast the node's 2 s close handshake on a loaded machine, and the node would then cut it: 1006).
    for (let i = 0; i < batch.length && flood.ws.readyState === WebSocket.OPEN; i += 5000) {
      for (const message of batch.slice(i, i + 5000)) flood.ws.send(message);
      await new Promise((r) => setImmediate(r));
    }
    expect(await flood.closed).toBe(CloseCode.TryAgainLater);
    const deadline = Date.now() + 10_000;
    let left = (await keysAndChannels(cluster.prefix)).channels.length;
    while (left > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      left = (await keysAndChannels(cluster.prefix)).channels.length;
    }
    expect(left).toBe(0);
    const stats = await cluster.stats(cluster.nodes[0]!);
    expect(stats.active).toBe(0);
  });
});
