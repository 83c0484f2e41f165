/**
 * The server API on one real node (startNodeServer, the real protocol, the embedded hub): key handling,
 * publish reaching a subscribed client, the idempotent retry, batches refused whole, size limits, history
 * pages and resets. The two-node variant on Redis is ./api-redis.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_PATHS, mountServerApi } from '../../server/api/index.ts';
import { MemoryHub } from '../../server/hub/memory.ts';
import { METRICS_PATH } from '../../server/metrics/index.ts';
import { type RunningServer, startNodeServer } from '../../server/node.ts';
import { createProtocol, type Protocol } from '../../server/protocol/index.ts';
import { createClient } from '../../src/client/index.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { until } from '../client/harness.ts';
import { API_KEY, api } from './support.ts';

let server: RunningServer;
let off: RunningServer;
let protocol: Protocol;
const hub = new MemoryHub({ historySize: 5 });

beforeAll(async () => {
  protocol = createProtocol({ hub });
  server = await startNodeServer({
    onConnection: protocol.onConnection,
    limits: { maxMessageBytes: 4096 },
    configure: (app) => {
      mountServerApi(app.app, { key: API_KEY, hub, maxMessageBytes: 4096, maxBatchMessages: 50 });
    },
  });
  off = await startNodeServer({
    onConnection: protocol.onConnection,
    configure: (app) => {
      expect(mountServerApi(app.app, { key: undefined, hub })).toBe(false);
    },
  });
});

afterAll(async () => {
  await server.close();
  await off.close();
  protocol.close();
  await hub.close();
});

describe('server API: paths', () => {
  it('lists every route where it is served, the metrics endpoint included', async () => {
    expect(API_PATHS.metrics).toBe(METRICS_PATH);
    for (const path of [API_PATHS.publish, API_PATHS.batch]) {
      // Mounted: the body is refused (400), not the path (404).
      expect((await api(server.url, 'POST', path, {})).status, path).toBe(400);
    }
    expect((await api(server.url, 'GET', `${API_PATHS.history}?topic=t`)).status).toBe(200);
  });
});

describe('server API: keys', () => {
  it('is 404 when no key is configured', async () => {
    expect((await api(off.url, 'POST', '/rt/api/publish', { topic: 't', data: 1 })).status).toBe(404);
    expect((await api(off.url, 'GET', '/rt/api/history?topic=t')).status).toBe(404);
  });

  it('answers 401 to a missing or wrong key and publishes nothing', async () => {
    const before = await hub.head('keys');
    for (const key of [null, 'wrong-key-0123456789abcdef', `${API_KEY}x`, API_KEY.slice(0, -1), '']) {
      const answer = await api(server.url, 'POST', '/rt/api/publish', { topic: 'keys', data: 1 }, { key });
      expect(answer.status).toBe(401);
      expect(answer.body.error).toBe('ERR_UNAUTHORIZED');
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    const basic = await fetch(`${server.url}/rt/api/history?topic=keys`, {
      headers: { authorization: `Basic ${btoa(`x:${API_KEY}`)}` },
    });
    expect(basic.status).toBe(401);
    expect(await hub.head('keys')).toBe(before);
  });

  it('refuses a short key at start', () => {
    expect(() => mountServerApi(off.app.app, { key: 'short', hub })).toThrow(/at least 16/);
  });
});

describe('server API: publish', () => {
  it('publishes through the hub: a subscribed client receives the message with its seq', async () => {
    const client = createClient({ url: server.url, transports: nodeTransports, rememberRung: false });
    const seen: { topic: string; seq: number | undefined; data: unknown }[] = [];
    client.on('message', (m) => seen.push({ topic: m.topic, seq: m.seq, data: m.data }));
    const sub = client.subscribe('room');
    await until(() => sub.lastSeq !== undefined, 'subscribed');
    const answer = await api(server.url, 'POST', '/rt/api/publish', { topic: 'room', data: { hi: 1 } });
    expect(answer).toMatchObject({ status: 200, body: { topic: 'room', seq: 1 } });
    await until(() => seen.length === 1, 'delivery');
    expect(seen[0]).toEqual({ topic: 'room', seq: 1, data: { hi: 1 } });
    await client.close();
  });

  it('makes a retry with the same id idempotent: same seq, one message', async () => {
    const first = await api(server.url, 'POST', '/rt/api/publish', { topic: 'idem', data: 'a', id: 'n-1' });
    const [again, overlapping] = await Promise.all([
      api(server.url, 'POST', '/rt/api/publish', { topic: 'idem', data: 'a', id: 'n-1' }),
      api(server.url, 'POST', '/rt/api/publish', { topic: 'idem', data: 'a', id: 'n-1' }),
    ]);
    expect(first.body.seq).toBe(1);
    expect(again.body.seq).toBe(1);
    expect(overlapping.body.seq).toBe(1);
    // The same id on another topic is another message.
    expect(
      (await api(server.url, 'POST', '/rt/api/publish', { topic: 'idem2', data: 'a', id: 'n-1' })).body.seq,
    ).toBe(1);
    expect(
      (await api(server.url, 'POST', '/rt/api/publish', { topic: 'idem', data: 'b', id: 'n-2' })).body.seq,
    ).toBe(2);
    expect(await hub.head('idem')).toBe(2);
  });

  it('refuses malformed and invalid bodies with a stable code, publishing nothing', async () => {
    const cases: [string | undefined, unknown, number, string, Record<string, unknown>?][] = [
      ['{"topic": "bad", ', undefined, 400, 'ERR_MALFORMED'],
      ['[1,2]', undefined, 400, 'ERR_MALFORMED'],
      [undefined, { data: 1 }, 400, 'ERR_INVALID', { field: 'topic' }],
      [undefined, { topic: '', data: 1 }, 400, 'ERR_INVALID', { field: 'topic' }],
      [undefined, { topic: 'x'.repeat(4097), data: 1 }, 400, 'ERR_INVALID', { field: 'topic' }],
      [undefined, { topic: 'x'.repeat(257), data: 1 }, 400, 'ERR_INVALID', { field: 'topic' }],
      [undefined, { topic: 'bad' }, 400, 'ERR_INVALID', { field: 'data' }],
      [undefined, { topic: 'bad', data: 1, id: 7 }, 400, 'ERR_INVALID', { field: 'id' }],
      [
        undefined,
        { topic: 'bad', data: 'x'.repeat(5000) },
        413,
        'ERR_TOO_LARGE',
        { field: 'data', limit: 4096 },
      ],
    ];
    for (const [raw, body, status, code, details] of cases) {
      const answer = await api(server.url, 'POST', '/rt/api/publish', body, raw === undefined ? {} : { raw });
      expect(answer.status, JSON.stringify(body ?? raw)).toBe(status);
      expect(answer.body).toMatchObject({ error: code, ...details });
      expect(typeof answer.body.message).toBe('string');
    }
    // A body far over the limit is refused before it is read whole.
    const huge = await api(server.url, 'POST', '/rt/api/publish', undefined, { raw: 'x'.repeat(200_000) });
    expect(huge).toMatchObject({ status: 413, body: { error: 'ERR_TOO_LARGE' } });
    expect(await hub.head('bad')).toBe(0);
  });
});

describe('server API: batch', () => {
  it('publishes many topics in one request, in order per topic', async () => {
    const messages = Array.from({ length: 30 }, (_, i) => ({ topic: `user.${i % 10}`, data: i }));
    const answer = await api(server.url, 'POST', '/rt/api/batch', { messages });
    expect(answer.status).toBe(200);
    const results = answer.body.results as { topic: string; seq: number }[];
    expect(results).toHaveLength(30);
    expect(results).toEqual(messages.map((m, i) => ({ topic: m.topic, seq: Math.floor(i / 10) + 1 })));
  });

  it('refuses a batch with one invalid message whole, naming it', async () => {
    const messages = [
      { topic: 'whole.a', data: 1 },
      { topic: 'whole.b', data: 2 },
      { topic: '', data: 3 },
    ];
    const answer = await api(server.url, 'POST', '/rt/api/batch', { messages });
    expect(answer).toMatchObject({ status: 400, body: { error: 'ERR_INVALID', index: 2, field: 'topic' } });
    expect(await hub.head('whole.a')).toBe(0);
    expect(await hub.head('whole.b')).toBe(0);
    const many = Array.from({ length: 51 }, () => ({ topic: 'whole.a', data: 1 }));
    expect(await api(server.url, 'POST', '/rt/api/batch', { messages: many })).toMatchObject({
      status: 413,
      body: { error: 'ERR_TOO_LARGE', limit: 50 },
    });
    expect((await api(server.url, 'POST', '/rt/api/batch', { messages: 'no' })).body.error).toBe(
      'ERR_INVALID',
    );
    expect(await hub.head('whole.a')).toBe(0);
  });

  it('with ids, a whole batch sent again publishes nothing twice', async () => {
    const messages = [1, 2, 3].map((i) => ({ topic: 'again', data: i, id: `m${i}` }));
    const first = await api(server.url, 'POST', '/rt/api/batch', { messages });
    const second = await api(server.url, 'POST', '/rt/api/batch', { messages });
    expect(second.body.results).toEqual(first.body.results);
    expect(await hub.head('again')).toBe(3);
  });
});

describe('server API: history', () => {
  it('returns the last messages, pages after since, and a reset past the window', async () => {
    for (let i = 1; i <= 8; i++) await hub.publish('hist', i);
    // History keeps 5: seq 4..8.
    const last = await api(server.url, 'GET', '/rt/api/history?topic=hist&limit=3');
    expect(last.status).toBe(200);
    expect(last.body).toMatchObject({ topic: 'hist', head: 8, more: false });
    expect(last.body.messages).toEqual([6, 7, 8].map((seq) => ({ seq, data: seq })));
    expect(last.body.reset).toBeUndefined();

    const page = await api(server.url, 'GET', '/rt/api/history?topic=hist&since=4&limit=2');
    expect(page.body.messages).toEqual([5, 6].map((seq) => ({ seq, data: seq })));
    expect(page.body.more).toBe(true);

    const gap = await api(server.url, 'GET', '/rt/api/history?topic=hist&since=1');
    expect(gap.body.reset).toBe('history-gap');
    expect((gap.body.messages as { seq: number }[]).map((m) => m.seq)).toEqual([4, 5, 6, 7, 8]);

    const ahead = await api(server.url, 'GET', '/rt/api/history?topic=hist&since=99');
    expect(ahead.body).toMatchObject({ reset: 'ahead-of-history', messages: [] });

    const lost = await api(server.url, 'GET', '/rt/api/history?topic=hist&since=6&epoch=other');
    expect(lost.body.reset).toBe('history-lost');
    const same = await api(server.url, 'GET', `/rt/api/history?topic=hist&since=6&epoch=${last.body.epoch}`);
    expect(same.body.reset).toBeUndefined();
    expect((same.body.messages as { seq: number }[]).map((m) => m.seq)).toEqual([7, 8]);
  });

  it('refuses bad queries', async () => {
    for (const query of [
      '',
      'topic=h&since=-1',
      'topic=h&limit=0',
      'topic=h&limit=1001',
      'topic=h&since=x',
    ]) {
      const answer = await api(server.url, 'GET', `/rt/api/history?${query}`);
      expect(answer.status, query).toBe(400);
      expect(answer.body.error).toBe('ERR_INVALID');
    }
  });
});
