/** Unit tests of the client's pure pieces: backoff, send buffer, ladder planning, rung memory, pacing, lanes. */
import { describe, expect, it } from 'vitest';
import { CloseCode } from '../close-codes.ts';
import { Emitter } from '../emitter.ts';
import { LaneMap } from '../lanes.ts';
import type { OfferedTransport } from '../negotiate.ts';
import { Backoff } from './backoff.ts';
import { planLadder, rungsAbove } from './ladder.ts';
import { Outbox, type OutboxEntry } from './outbox.ts';
import { Pacer } from './pacer.ts';
import { memoryRungMemory, storageRungMemory } from './rung-memory.ts';
import { Topics } from './topics.ts';
import type { ClientEvents } from './types.ts';

describe('Backoff', () => {
  it('full jitter: each delay is in [0, min(max, base * 2^attempt))', () => {
    const high = new Backoff({ baseMs: 100, maxMs: 1000 }, () => 0.999999);
    expect([high.next(), high.next(), high.next(), high.next(), high.next(), high.next()]).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
    const low = new Backoff({ baseMs: 100, maxMs: 1000 }, () => 0);
    expect([low.next(), low.next()]).toEqual([0, 0]);
  });

  it('counts attempts, is exhausted at maxAttempts, and resets', () => {
    const b = new Backoff({ maxAttempts: 2 });
    expect(b.exhausted).toBe(false);
    b.next();
    b.next();
    expect(b.exhausted).toBe(true);
    b.reset();
    expect(b.attempt).toBe(0);
  });

  it('after a loss: at once for a broken path, jittered for a server-wide close, as told for a rate limit', () => {
    const b = new Backoff({ baseMs: 100 }, () => 0.5);
    expect(b.afterLoss(CloseCode.Abnormal, '')).toBe(0);
    expect(b.afterLoss(CloseCode.HeartbeatTimeout, 'no pong')).toBe(0);
    expect(b.afterLoss(CloseCode.ServiceRestart, 'restart')).toBe(50);
    expect(b.afterLoss(CloseCode.RateLimited, 'rate limited: retry after 2500 ms')).toBe(2500);
    expect(b.afterLoss(CloseCode.RateLimited, 'rate limited: retry after 999999 ms')).toBe(60_000);
    expect(b.afterLoss(CloseCode.RateLimited, 'no hint')).toBe(50);
  });

  it('never overflows for huge attempt counts', () => {
    const b = new Backoff({ baseMs: 500, maxMs: 30_000 });
    expect(b.ceiling(10_000)).toBe(30_000);
  });
});

function entry(id: string, bytes: number, log: string[]): OutboxEntry {
  return {
    id,
    payload: id,
    bytes,
    resolve: () => log.push(`ok ${id}`),
    reject: (e) => log.push(`${e.code} ${id}`),
  };
}

describe('Outbox', () => {
  it('reject-new refuses the newcomer and keeps the queue', () => {
    const log: string[] = [];
    const o = new Outbox({ maxMessages: 2 });
    o.add(entry('a', 1, log));
    o.add(entry('b', 1, log));
    expect(() => o.add(entry('c', 1, log))).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_FULL' }));
    expect(o.entries().map((e) => e.id)).toEqual(['a', 'b']);
  });

  it('drop-oldest rejects the oldest until the newcomer fits (bytes too)', () => {
    const log: string[] = [];
    const o = new Outbox({ maxMessages: 10, maxBytes: 10, overflow: 'drop-oldest' });
    o.add(entry('a', 4, log));
    o.add(entry('b', 4, log));
    o.add(entry('c', 6, log));
    expect(o.entries().map((e) => e.id)).toEqual(['b', 'c']);
    expect(log).toEqual(['ERR_BUFFER_FULL a']);
    expect(o.bytes).toBe(10);
  });

  it('a message larger than the whole buffer is refused under any policy', () => {
    const o = new Outbox({ maxBytes: 10, overflow: 'drop-oldest' });
    expect(() => o.add(entry('a', 11, []))).toThrow(/exceeds the send buffer/);
  });

  it('settle removes once; unknown ids are ignored', () => {
    const o = new Outbox();
    o.add(entry('a', 3, []));
    expect(o.settle('a')?.id).toBe('a');
    expect(o.settle('a')).toBeUndefined();
    expect(o.size).toBe(0);
    expect(o.bytes).toBe(0);
  });
});

const offers: OfferedTransport[] = [
  { kind: 'webtransport', url: 'https://h/wt' },
  { kind: 'websocket', url: 'ws://h/rt/ws' },
  { kind: 'sse', url: 'http://h/rt/sse', postUrl: 'http://h/rt/sse/{session}' },
];
const all = ['webtransport', 'websocket', 'sse'] as const;

describe('planLadder', () => {
  it('follows the app order, restricted to what the server offers and the client can open', () => {
    expect(planLadder(offers, all).attempts.map((o) => o.kind)).toEqual(all);
    expect(planLadder(offers, all, ['sse', 'websocket']).attempts.map((o) => o.kind)).toEqual([
      'sse',
      'websocket',
    ]);
    expect(planLadder(offers.slice(1), ['websocket']).attempts.map((o) => o.kind)).toEqual(['websocket']);
  });

  it('starts at the remembered rung, then below, then above', () => {
    const plan = planLadder(offers, all, undefined, 'websocket');
    expect(plan.attempts.map((o) => o.kind)).toEqual(['websocket', 'sse', 'webtransport']);
    expect(plan.ladder.map((o) => o.kind)).toEqual(all);
    expect(rungsAbove(plan.ladder, 'sse').map((o) => o.kind)).toEqual(['webtransport', 'websocket']);
    expect(rungsAbove(plan.ladder, 'webtransport')).toEqual([]);
  });
});

describe('rung memory', () => {
  it('forgets after the TTL, so one slow handshake does not demote for good', () => {
    let now = 1000;
    const m = memoryRungMemory(5000, () => now);
    m.set('http://a', 'sse');
    expect(m.get('http://a')).toBe('sse');
    now += 5001;
    expect(m.get('http://a')).toBeUndefined();
  });

  it('storage-backed memory ignores garbage and foreign values', () => {
    const data = new Map<string, string>();
    const storage = {
      getItem: (k: string) => data.get(k) ?? null,
      setItem: (k: string, v: string) => void data.set(k, v),
      removeItem: (k: string) => void data.delete(k),
    };
    const m = storageRungMemory(storage, 60_000);
    m.set('http://a', 'websocket');
    expect(m.get('http://a')).toBe('websocket');
    data.set('switchyard:rung:http://b', '{not json');
    data.set('switchyard:rung:http://c', JSON.stringify({ kind: 'carrier-pigeon', at: Date.now() }));
    expect(m.get('http://b')).toBeUndefined();
    expect(m.get('http://c')).toBeUndefined();
  });
});

describe('Pacer', () => {
  it('sends a burst at once, then paces the rest in order; tryNow drops instead of queueing', async () => {
    const pacer = new Pacer({ messagesPerSecond: 1000, burst: 8 });
    const sent: number[] = [];
    for (let i = 0; i < 10; i++) pacer.run(() => sent.push(i));
    // Half the announced burst goes at once (margin for the server's bucket starting earlier).
    expect(sent).toEqual([0, 1, 2, 3]);
    expect(pacer.queued).toBe(6);
    expect(pacer.tryNow(() => sent.push(99))).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sent).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    pacer.stop();
  });

  it('stop() forgets what waits', async () => {
    const pacer = new Pacer({ messagesPerSecond: 10, burst: 2 });
    const sent: number[] = [];
    for (let i = 0; i < 5; i++) pacer.run(() => sent.push(i));
    pacer.stop();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(sent).toEqual([0]);
  });
});

describe('LaneMap', () => {
  it('gives the first `max` topics a lane each, in order, and spreads later ones over them stably', () => {
    const lanes = new LaneMap(4);
    expect(['a', 'b', 'c', 'd'].map((t) => lanes.channelFor(t))).toEqual(['t0', 't1', 't2', 't3']);
    expect(lanes.channelFor('a')).toBe('t0');
    const later = Array.from({ length: 100 }, (_, i) => lanes.channelFor(`topic-${i}`));
    expect(new Set(later).size).toBe(4);
    expect(Array.from({ length: 100 }, (_, i) => lanes.channelFor(`topic-${i}`))).toEqual(later);
  });

  it('puts everything on the default channel with 0 lanes, and connection-level traffic always', () => {
    expect(new LaneMap(0).channelFor('a')).toBe('');
    expect(new LaneMap(8).channelFor(undefined)).toBe('');
    expect(new LaneMap(1000).max).toBe(64);
  });
});

describe('Topics', () => {
  const setup = () => {
    const events = new Emitter<ClientEvents<unknown>>();
    const resets: { topic: string; seq: number; reason: string }[] = [];
    events.on('reset', (r) => resets.push(r));
    let online = true;
    const sent: string[] = [];
    const topics = new Topics<unknown>(events, undefined, (envelope) => {
      if (online) sent.push(`${envelope.type} ${envelope.topic}`);
      return online;
    });
    return { topics, resets, sent, offline: (v: boolean) => (online = !v) };
  };

  it('the first answer to a subscription is its baseline, not a reset', () => {
    const { topics, resets } = setup();
    topics.subscribe('a');
    topics.onReset('a', 7, 'subscribed', 'e1');
    expect(resets).toEqual([]);
  });

  it('a subscription made offline is asked on the first link: its answer is still the baseline', () => {
    const { topics, resets, sent, offline } = setup();
    offline(true);
    topics.subscribe('a');
    offline(false);
    expect(topics.subscribeEnvelopes(false)).toMatchObject([{ topic: 'a', since: undefined }]);
    topics.onReset('a', 7, 'subscribed', 'e1');
    expect(resets).toEqual([]);
    expect(sent).toEqual([]);
  });

  it('a subscription whose link was lost before the answer: on the same session the later answer is the remembered baseline, quietly', () => {
    const { topics, resets, sent } = setup();
    topics.subscribe('a');
    expect(sent).toEqual(['sub a']);
    // The link is lost before the server's answer; the next link resumes the session and asks again.
    expect(topics.subscribeEnvelopes(true)).toMatchObject([{ topic: 'a', since: undefined }]);
    // The server answers with where the subscription started (remembered in the session), then fills from it.
    topics.onReset('a', 7, 'subscribed', 'e1');
    expect(resets).toEqual([]);
    expect(topics.subscribeEnvelopes(true)).toMatchObject([{ topic: 'a', since: 7 }]);
  });

  it('a subscription whose link was lost before the answer, on another session: the later answer is a reset', () => {
    const { topics, resets } = setup();
    topics.subscribe('a');
    // The session expired meanwhile: what it remembered is gone with it.
    expect(topics.subscribeEnvelopes(false)).toMatchObject([{ topic: 'a', since: undefined }]);
    topics.onReset('a', 12, 'subscribed', 'e1');
    expect(resets).toEqual([{ topic: 'a', seq: 12, reason: 'subscribed' }]);
    // From then on it has a position: a later link resumes from it, quietly.
    expect(topics.subscribeEnvelopes(true)).toMatchObject([{ topic: 'a', since: 12 }]);
  });
});
