/**
 * A connection without a queue (every idle one) sends through `sendIdle`, which must apply the same bounds as
 * `Outgoing.push` on an empty queue: the queue is only made once the rung asks to wait.
 */
import { describe, expect, it } from 'vitest';
import { SENT } from '../../src/connection-core.ts';
import type { Payload, ServerConnection } from '../../src/transport.ts';
import { Outgoing, type OutgoingLimits, sendIdle } from './outgoing.ts';

function fakeConnection(answer: () => Promise<void>): { connection: ServerConnection; sent: Payload[] } {
  const sent: Payload[] = [];
  const connection = {
    send: (payload: Payload) => {
      sent.push(payload);
      return answer();
    },
  } as unknown as ServerConnection;
  return { connection, sent };
}

const limits: OutgoingLimits = { maxMessages: 10, maxBytes: 12 };

describe('sendIdle: Outgoing.push on an empty queue', () => {
  it('hands what fits to the rung at once and passes its answer on', () => {
    const { connection, sent } = fakeConnection(() => SENT);
    expect(sendIdle(connection, limits, 'twelve bytes', undefined)).toBe(SENT);
    // 12 UTF-16 units could be 36 bytes: counted exactly, it is 12, and fits.
    expect(sendIdle(connection, limits, 'é'.repeat(6), undefined)).toBe(SENT);
    expect(sent).toEqual(['twelve bytes', 'é'.repeat(6)]);
  });

  it('refuses a message over the byte bound without sending it, whether its size is known or counted', () => {
    const { connection, sent } = fakeConnection(() => SENT);
    expect(sendIdle(connection, limits, 'thirteen byte', undefined)).toBe(false);
    expect(sendIdle(connection, limits, 'é'.repeat(7), undefined)).toBe(false);
    expect(sendIdle(connection, limits, new Uint8Array(13), undefined)).toBe(false);
    expect(sendIdle(connection, limits, 'x', { payload: 'x', bytes: 13 })).toBe(false);
    expect(sendIdle(connection, { maxMessages: 0, maxBytes: 100 }, 'x', undefined)).toBe(false);
    expect(sent).toEqual([]);
  });

  it('the same bounds as push on a fresh queue', () => {
    for (const payload of ['twelve bytes', 'thirteen byte', 'é'.repeat(6), 'é'.repeat(7)]) {
      const idle = sendIdle(fakeConnection(() => SENT).connection, limits, payload, undefined);
      const fresh = new Outgoing(fakeConnection(() => SENT).connection, limits);
      expect(fresh.push('', payload)).toBe(idle !== false);
    }
  });

  it('a queue made from a wait sends what came meanwhile once the wait is over, in order', async () => {
    let release: () => void = () => {};
    const waiting = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { connection, sent } = fakeConnection(() => (sent.length === 1 ? waiting : SENT));
    const first = sendIdle(connection, limits, 'a', undefined);
    expect(first).toBe(waiting);
    const out = new Outgoing(connection, limits);
    out.waitOnDefault(first as Promise<void>);
    expect(out.push('', 'b')).toBe(true);
    expect(out.push('', 'c')).toBe(true);
    expect(sent).toEqual(['a']);
    expect(out.bytes).toBe(2);
    release();
    await waiting;
    await Promise.resolve();
    expect(sent).toEqual(['a', 'b', 'c']);
    expect(out.bytes).toBe(0);
  });
});
