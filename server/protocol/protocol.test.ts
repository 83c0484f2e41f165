/**
 * The server protocol's handshake and limits, seen from raw WebSocket peers (test/protocol-peer.ts): hello
 * first, BadEnvelope on garbage, refusals by authenticate, slow consumers and the live connections of a session.
 * Publishing is in publish.test.ts, presence in presence.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../src/close-codes.ts';
import { type Peer, protocolPeers } from '../../test/protocol-peer.ts';

const wire = protocolPeers();
const { start, peer, greeted } = wire;

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
    const p = await greeted();
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

  it('closes a client that does not read with SlowConsumer (4008) once its queue is over the bound', async () => {
    const hub = await start({ outgoing: { maxMessages: 50, maxBytes: 1 << 20 } });
    const p = await greeted();
    p.send({ type: 'sub', topic: 'flood' });
    await p.next('reset');
    // 1 MiB per message: the rung's send() waits for the socket to drain, so the protocol queue grows.
    const big = 'x'.repeat(1 << 20);
    for (let i = 0; i < 200; i++) await hub.publish('flood', big);
    const close = await p.closed;
    expect(close.code).toBe(CloseCode.SlowConsumer);
    expect(wire.protocol.stats.slowConsumers).toBe(1);
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
