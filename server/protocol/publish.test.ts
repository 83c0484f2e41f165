/**
 * Publishing through the server protocol, seen from raw WebSocket peers (test/protocol-peer.ts): dedup of `pub`
 * ids per session, the app's onPublish hook, replay and resets on `sub`, unreliable `vpub` and `vmsg`.
 */
import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../src/close-codes.ts';
import { protocolPeers } from '../../test/protocol-peer.ts';

const wire = protocolPeers();
const { start, peer, greeted } = wire;

describe('server protocol: publish and subscribe', () => {
  it('dedups pub by id within a session, across connections, and acks every copy', async () => {
    const applied: unknown[] = [];
    await start({ onPublish: (e) => void applied.push(e.data) });
    const p = await peer();
    p.send({ type: 'hello', v: 1 });
    const { session } = (await p.next('welcome')) as { session: string };
    p.send({ type: 'pub', id: 'a', topic: 't', data: 1 });
    p.send({ type: 'pub', id: 'a', topic: 't', data: 1 });
    expect(await p.next('ack')).toEqual({ type: 'ack', id: 'a' });
    expect(await p.next('ack')).toEqual({ type: 'ack', id: 'a' });
    p.transport.close();
    // A new connection resuming the session: same id is still known.
    const q = await peer();
    q.send({ type: 'hello', v: 1, session });
    expect(await q.next('welcome')).toMatchObject({ session, resumed: true });
    q.send({ type: 'pub', id: 'a', topic: 't', data: 1 });
    q.send({ type: 'pub', id: 'b', topic: 't', data: 2 });
    await q.next('ack');
    await q.next('ack');
    expect(applied).toEqual([1, 2]);
    expect(wire.protocol.stats.duplicates).toBe(2);
    // An unknown session is a new one, said so in `resumed: false`.
    const r = await peer();
    r.send({ type: 'hello', v: 1, session: 'made-up' });
    const w = (await r.next('welcome')) as { session: string; resumed: boolean };
    expect(w.resumed).toBe(false);
    expect(w.session).not.toBe('made-up');
  });

  it("onPublish sees the whole context, authenticate's user included", async () => {
    const users: (string | undefined)[] = [];
    await start({ authenticate: () => ({ user: 'ada' }), onPublish: (e) => void users.push(e.user) });
    const p = await greeted();
    p.send({ type: 'pub', id: 'a', topic: 't', data: 1 });
    await p.next('ack');
    // The unreliable one too; the reliable one after it on the same topic is applied after it.
    p.send({ type: 'vpub', topic: 't', data: 2 });
    p.send({ type: 'pub', id: 'b', topic: 't', data: 3 });
    await p.next('ack');
    expect(users).toEqual(['ada', 'ada', 'ada']);
  });

  it('a failing onPublish answers with an error envelope whose ref is the message id', async () => {
    await start({
      onPublish: () => {
        throw new Error('nope');
      },
    });
    const p = await greeted();
    p.send({ type: 'pub', id: 'x1', data: 1 });
    expect(await p.next('error')).toEqual({
      type: 'error',
      code: 'ERR_PUBLISH_FAILED',
      message: 'nope',
      ref: 'x1',
    });
  });

  it('sub replays after `since`, fresh sub gets its baseline, gaps become reset', async () => {
    const hub = await start();
    for (let i = 1; i <= 3; i++) await hub.publish('t', i);
    const p = await greeted();
    p.send({ type: 'sub', topic: 't', since: 1 });
    expect(await p.next('msg')).toEqual({ type: 'msg', topic: 't', seq: 2, data: 2 });
    expect(await p.next('msg')).toEqual({ type: 'msg', topic: 't', seq: 3, data: 3 });
    p.send({ type: 'sub', topic: 'u' });
    expect(await p.next('reset')).toMatchObject({ type: 'reset', topic: 'u', seq: 0, reason: 'subscribed' });
    p.send({ type: 'sub', topic: 't', since: 10 });
    expect(await p.next('reset')).toMatchObject({
      type: 'reset',
      topic: 't',
      seq: 3,
      reason: 'ahead-of-history',
    });
    await hub.publish('t', 4);
    expect(await p.next('msg')).toEqual({ type: 'msg', topic: 't', seq: 4, data: 4 });
    p.send({ type: 'unsub', topic: 't' });
    p.send({ type: 'ping', id: 1 });
    await p.next('pong');
    await hub.publish('t', 5);
    p.send({ type: 'ping', id: 2 });
    await p.next('pong');
    expect(p.received.filter((e) => e.type === 'msg').map((e) => (e as { seq: number }).seq)).toEqual([
      2, 3, 4,
    ]);
  });

  it('vpub fans out as vmsg (no seq, no ack) to subscribers only, and is never replayed', async () => {
    await start();
    const a = await peer();
    const b = await peer();
    for (const p of [a, b]) {
      p.send({ type: 'hello', v: 1 });
      await p.next('welcome');
    }
    b.send({ type: 'sub', topic: 'cursor' });
    await b.next('reset');
    a.send({ type: 'vpub', topic: 'cursor', data: { x: 1 } });
    expect(await b.next('vmsg')).toEqual({ type: 'vmsg', topic: 'cursor', data: { x: 1 } });
    a.send({ type: 'pub', id: 'r1', topic: 'cursor', data: { x: 2 } });
    expect(await a.next('ack')).toEqual({ type: 'ack', id: 'r1' });
    expect(await b.next('msg')).toEqual({ type: 'msg', topic: 'cursor', seq: 1, data: { x: 2 } });
    a.send({ type: 'ping', id: 9 });
    await a.next('pong');
    expect(a.received.map((e) => e.type)).toEqual(['welcome', 'ack', 'pong']);
    // A late subscriber resuming from the start gets the reliable message only.
    const c = await greeted();
    c.send({ type: 'sub', topic: 'cursor', since: 0 });
    expect(await c.next('msg')).toMatchObject({ seq: 1 });
    c.send({ type: 'ping', id: 1 });
    await c.next('pong');
    expect(c.received.some((e) => e.type === 'vmsg')).toBe(false);
    expect(wire.protocol.stats).toMatchObject({ volatileReceived: 1, volatileSent: 1, volatileDropped: 0 });
  });

  it('a refused or invalid vpub is an error without ref; a vpub without topic is a bad envelope', async () => {
    await start({
      authorize: (operation, topic) =>
        topic === 'locked' ? { code: 'ERR_FORBIDDEN_TOPIC', message: `no ${operation} on locked` } : null,
    });
    const p = await greeted();
    p.send({ type: 'vpub', topic: 'locked', data: 1 });
    expect(await p.next('error')).toEqual({
      type: 'error',
      code: 'ERR_FORBIDDEN_TOPIC',
      message: 'no pub on locked',
    });
    p.send({ type: 'vpub', topic: '', data: 1 });
    expect(await p.next('error')).toMatchObject({ code: 'ERR_INVALID_TOPIC' });
    p.send('{"type":"vpub","data":1}');
    expect((await p.closed).code).toBe(CloseCode.BadEnvelope);
  });

  it('server-side publish with reliable: false reaches subscribers as vmsg', async () => {
    await start();
    const p = await greeted();
    p.send({ type: 'sub', topic: 'typing' });
    await p.next('reset');
    expect(await wire.protocol.publish('typing', { who: 'ann' }, { reliable: false })).toBeUndefined();
    expect(await p.next('vmsg')).toEqual({ type: 'vmsg', topic: 'typing', data: { who: 'ann' } });
    expect(await wire.protocol.publish('typing', { who: 'bob' })).toBe(1);
    expect(await p.next('msg')).toEqual({ type: 'msg', topic: 'typing', seq: 1, data: { who: 'bob' } });
  });
});
