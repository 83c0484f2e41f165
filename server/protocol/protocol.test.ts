/**
 * The server protocol seen from a raw WebSocket client (no switchyard client logic), so that every rule
 * is checked on the wire: hello first, BadEnvelope on garbage, refusals, dedup, resume, slow consumers, and
 * presence (join/leave/members, the info limit, the app's presence and presence-read decisions).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode } from '../../src/close-codes.ts';
import type { Envelope, JoinEnvelope, MembersEnvelope } from '../../src/envelope.ts';
import { MAX_PRESENCE_INFO_BYTES } from '../../src/presence.ts';
import type { CloseEvent, Transport } from '../../src/transport.ts';
import { createNodeWebSocketTransport } from '../../transports/websocket/node.ts';
import { MemoryHub } from '../hub/memory.ts';
import { type RunningServer, startNodeServer } from '../node.ts';
import { createProtocol, type Protocol, type ProtocolOptions } from './index.ts';

let server: RunningServer | undefined;
let protocol: Protocol | undefined;
afterEach(async () => {
  await server?.close();
  protocol?.close();
  server = undefined;
});

interface Peer {
  transport: Transport;
  received: Envelope[];
  closed: Promise<CloseEvent>;
  send(envelope: Envelope | string): void;
  next(type: Envelope['type']): Promise<Envelope>;
}

async function start(options: Partial<ProtocolOptions> = {}) {
  const hub = new MemoryHub();
  protocol = createProtocol({ hub, heartbeatMs: 60_000, ...options });
  server = await startNodeServer({ onConnection: protocol.onConnection });
  return hub;
}

async function peer(): Promise<Peer> {
  const transport = createNodeWebSocketTransport({ url: `${server?.url.replace('http', 'ws')}/rt/ws` });
  const received: Envelope[] = [];
  const waiters: (() => void)[] = [];
  transport.on('message', (e) => {
    received.push(JSON.parse(e.data as string) as Envelope);
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<CloseEvent>((resolve) => transport.on('close', resolve));
  await new Promise<void>((resolve) => transport.on('open', () => resolve()));
  let cursor = 0;
  return {
    transport,
    received,
    closed,
    send: (envelope) =>
      void transport.send(typeof envelope === 'string' ? envelope : JSON.stringify(envelope)),
    async next(type) {
      for (;;) {
        while (cursor < received.length) {
          const e = received[cursor++] as Envelope;
          if (e.type === type) return e;
        }
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
  };
}

describe('server protocol', () => {
  it('hello -> welcome with a session, ping -> pong', async () => {
    await start();
    const p = await peer();
    p.send({ type: 'hello', v: 1 });
    const welcome = await p.next('welcome');
    expect(welcome).toMatchObject({ type: 'welcome', resumed: false, heartbeatMs: 60_000 });
    p.send({ type: 'ping', id: 7 });
    expect(await p.next('pong')).toEqual({ type: 'pong', id: 7 });
  });

  it('handles messages pipelined right after hello, before welcome, in order', async () => {
    const hub = await start({
      authenticate: () => new Promise((resolve) => setTimeout(() => resolve(null), 20)),
    });
    await hub.publish('t', 'old');
    const p = await peer();
    p.send({ type: 'hello', v: 1 });
    p.send({ type: 'sub', topic: 't', since: 0 });
    p.send({ type: 'ping', id: 3 });
    await p.next('pong');
    await p.next('msg');
    // pong is answered at once; sub/unsub/pub go through the ordered queue, so only welcome's place is fixed.
    expect(p.received.map((e) => e.type).sort()).toEqual(['msg', 'pong', 'welcome']);
    expect(p.received[0]?.type).toBe('welcome');
  });

  it('closes with BadEnvelope (4004) on JSON that is not an envelope, after an error saying why', async () => {
    await start();
    const p = await peer();
    p.send({ type: 'hello', v: 1 });
    await p.next('welcome');
    p.send('{"type":"pub","id":5,"data":1}');
    const close = await p.closed;
    expect(close.code).toBe(CloseCode.BadEnvelope);
    expect(p.received.at(-1)).toMatchObject({
      type: 'error',
      code: 'ERR_INVALID_ENVELOPE',
      message: 'pub.id: expected string, got number',
    });
  });

  it('closes with BadEnvelope on text that is not JSON', async () => {
    await start();
    const p = await peer();
    p.send('{nope');
    expect((await p.closed).code).toBe(CloseCode.BadEnvelope);
  });

  it('requires hello first and the current protocol version', async () => {
    await start();
    const p = await peer();
    p.send({ type: 'sub', topic: 'x' });
    expect((await p.closed).code).toBe(CloseCode.BadEnvelope);
    expect(p.received.at(-1)).toMatchObject({ message: 'expected hello first, got sub' });
    const q = await peer();
    q.send({ type: 'hello', v: 99 });
    expect((await q.closed).code).toBe(CloseCode.BadEnvelope);
  });

  it('authenticate refusal: error envelope with the refusal code, then its close code', async () => {
    await start({
      authenticate: (hello) =>
        hello.token === 'ok'
          ? null
          : {
              status: 401,
              closeCode: CloseCode.Unauthorized,
              code: 'ERR_UNAUTHORIZED',
              message: 'bad token',
            },
    });
    const p = await peer();
    p.send({ type: 'hello', v: 1, token: 'nope' });
    const close = await p.closed;
    expect(close).toMatchObject({ code: CloseCode.Unauthorized, reason: 'bad token' });
    expect(p.received).toEqual([{ type: 'error', code: 'ERR_UNAUTHORIZED', message: 'bad token' }]);
    const q = await peer();
    q.send({ type: 'hello', v: 1, token: 'ok' });
    expect(await q.next('welcome')).toMatchObject({ type: 'welcome' });
  });

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
    expect(protocol?.stats.duplicates).toBe(2);
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
    const p = await peer();
    p.send({ type: 'hello', v: 1 });
    await p.next('welcome');
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
    const p = await peer();
    p.send({ type: 'hello', v: 1 });
    await p.next('welcome');
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
    const p = await peer();
    p.send({ type: 'hello', v: 1 });
    await p.next('welcome');
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
    const c = await peer();
    c.send({ type: 'hello', v: 1 });
    await c.next('welcome');
    c.send({ type: 'sub', topic: 'cursor', since: 0 });
    expect(await c.next('msg')).toMatchObject({ seq: 1 });
    c.send({ type: 'ping', id: 1 });
    await c.next('pong');
    expect(c.received.some((e) => e.type === 'vmsg')).toBe(false);
    expect(protocol?.stats).toMatchObject({ volatileReceived: 1, volatileSent: 1, volatileDropped: 0 });
  });

  it('a refused or invalid vpub is an error without ref; a vpub without topic is a bad envelope', async () => {
    await start({
      authorize: (operation, topic) =>
        topic === 'locked' ? { code: 'ERR_FORBIDDEN_TOPIC', message: `no ${operation} on locked` } : null,
    });
    const p = await peer();
    p.send({ type: 'hello', v: 1 });
    await p.next('welcome');
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
    const p = await peer();
    p.send({ type: 'hello', v: 1 });
    await p.next('welcome');
    p.send({ type: 'sub', topic: 'typing' });
    await p.next('reset');
    expect(await protocol?.publish('typing', { who: 'ann' }, { reliable: false })).toBeUndefined();
    expect(await p.next('vmsg')).toEqual({ type: 'vmsg', topic: 'typing', data: { who: 'ann' } });
    expect(await protocol?.publish('typing', { who: 'bob' })).toBe(1);
    expect(await p.next('msg')).toEqual({ type: 'msg', topic: 'typing', seq: 1, data: { who: 'bob' } });
  });

  it('closes a client that does not read with SlowConsumer (4008) once its queue is over the bound', async () => {
    const hub = await start({ outgoing: { maxMessages: 50, maxBytes: 1 << 20 } });
    const p = await peer();
    p.send({ type: 'hello', v: 1 });
    await p.next('welcome');
    p.send({ type: 'sub', topic: 'flood' });
    await p.next('reset');
    // 1 MiB per message: the rung's send() waits for the socket to drain, so the protocol queue grows.
    const big = 'x'.repeat(1 << 20);
    for (let i = 0; i < 200; i++) await hub.publish('flood', big);
    const close = await p.closed;
    expect(close.code).toBe(CloseCode.SlowConsumer);
    expect(protocol?.stats.slowConsumers).toBe(1);
  });

  it('a session keeps at most 3 live connections: a 4th pushes the oldest out with Replaced (4009)', async () => {
    await start();
    const first = await peer();
    first.send({ type: 'hello', v: 1 });
    const { session } = (await first.next('welcome')) as { session: string };
    const others: Peer[] = [];
    for (let i = 0; i < 3; i++) {
      const p = await peer();
      p.send({ type: 'hello', v: 1, session });
      await p.next('welcome');
      others.push(p);
    }
    expect((await first.closed).code).toBe(CloseCode.Replaced);
    for (const p of others) {
      p.send({ type: 'ping', id: 1 });
      expect(await p.next('pong')).toEqual({ type: 'pong', id: 1 });
    }
  });
});

/** A peer past hello/welcome. */
async function greeted(): Promise<Peer> {
  const p = await peer();
  p.send({ type: 'hello', v: 1 });
  await p.next('welcome');
  return p;
}

describe('presence on the wire', () => {
  it('sub makes a member; followers hear join and leave; presence answers with members', async () => {
    await start();
    const a = await greeted();
    a.send({ type: 'sub', topic: 'room', presence: true, info: { name: 'a' } });
    const self = (await a.next('join')) as JoinEnvelope;
    expect(self).toMatchObject({ topic: 'room', client: { info: { name: 'a' } } });
    expect(self.client.user).toBeUndefined();
    const b = await greeted();
    b.send({ type: 'sub', topic: 'room', info: { name: 'b' } });
    expect(await a.next('join')).toMatchObject({ client: { info: { name: 'b' } } });
    b.send({ type: 'presence', id: 'q1', topic: 'room' });
    const members = (await b.next('members')) as MembersEnvelope;
    expect(members.id).toBe('q1');
    expect(members.clients.map((m) => m.info?.name).sort()).toEqual(['a', 'b']);
    // Not following presence: b heard no join or leave.
    expect(b.received.some((e) => e.type === 'join')).toBe(false);
    b.send({ type: 'unsub', topic: 'room' });
    expect(await a.next('leave')).toMatchObject({ client: { info: { name: 'b' } } });
    b.send({ type: 'sub', topic: 'room' });
    await a.next('join');
    await b.transport.close();
    expect(await a.next('leave')).toMatchObject({ topic: 'room' });
    expect(protocol?.presence?.members('room')).toHaveLength(1);
  });

  it('an oversize info refuses the whole sub', async () => {
    const hub = await start();
    const a = await greeted();
    a.send({ type: 'sub', topic: 'room', info: { name: 'x'.repeat(MAX_PRESENCE_INFO_BYTES) } });
    expect(await a.next('error')).toMatchObject({ code: 'ERR_PRESENCE_INFO_TOO_BIG' });
    await hub.publish('room', 'not for a');
    a.send({ type: 'presence', id: 'q', topic: 'room' });
    expect(((await a.next('members')) as MembersEnvelope).clients).toEqual([]);
    expect(a.received.some((e) => e.type === 'msg' || e.type === 'reset')).toBe(false);
  });

  it("the app's authorize turns presence off per topic and guards reading it; the user is authenticate's", async () => {
    await start({
      authenticate: () => ({ user: 'ada' }),
      authorize: (operation, topic) =>
        (operation === 'presence' && topic === 'quiet') ||
        (operation === 'presence-read' && topic === 'secret')
          ? { code: 'ERR_NO_PRESENCE', message: `${operation} refused on ${topic}` }
          : null,
    });
    const a = await greeted();
    a.send({ type: 'sub', topic: 'quiet', presence: true });
    await a.next('reset');
    a.send({ type: 'presence', id: 'q1', topic: 'quiet' });
    expect(((await a.next('members')) as MembersEnvelope).clients).toEqual([]);
    a.send({ type: 'sub', topic: 'secret', presence: true });
    expect(await a.next('error')).toMatchObject({
      code: 'ERR_NO_PRESENCE',
      message: 'presence-read refused on secret',
    });
    a.send({ type: 'presence', id: 'q2', topic: 'secret' });
    expect(await a.next('error')).toMatchObject({ code: 'ERR_NO_PRESENCE', ref: 'q2' });
    // Present there all the same, as ada.
    expect(protocol?.presence?.members('secret')).toEqual([{ client: expect.any(String), user: 'ada' }]);
    a.send({ type: 'sub', topic: 'open', presence: true });
    expect(await a.next('join')).toMatchObject({ topic: 'open', client: { user: 'ada' } });
  });
});
