/**
 * The Node binding's own behaviour: corked bursts, the shared empty extensions, the ping sweep and a server's
 * socket group. Observable effects only (writes on the net socket, bytes the peer receives, close codes), no
 * timings. How its frames look on the wire: ./node-frames.test.ts.
 */
import { describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { CloseCode } from '../../src/close-codes.ts';
import { encodeTextFrame } from '../../src/frame.ts';
import { afterTest, captureWrites, listen, text } from '../../test/node-socket-pair.ts';
import { NodeSocketGroup } from './server-node.ts';

describe('Node WebSocket binding', () => {
  it('sends a burst made in one tick with one write, in order', async () => {
    const pair = await (await listen())();
    const writes = captureWrites(pair.serverWs);
    for (let i = 0; i < 50; i++) void pair.server.send(`m${i}`, { channel: i % 2 ? 'odd' : '' });
    expect(writes.calls).toBe(0);
    await pair.receivedCount(50);
    expect(writes.calls).toBe(1);
    expect(text(pair)).toEqual(Array.from({ length: 50 }, (_, i) => (i % 2 ? `odd:m${i}` : `:m${i}`)));
  });

  it('sends made in separate ticks are written as they come (the counter sees every write)', async () => {
    const pair = await (await listen())();
    const writes = captureWrites(pair.serverWs);
    for (let i = 0; i < 3; i++) {
      void pair.server.send(`m${i}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await pair.receivedCount(3);
    expect(writes.calls).toBe(3);
    expect(text(pair)).toEqual([':m0', ':m1', ':m2']);
  });

  it('a close right after a burst still sends the burst, then the close frame', async () => {
    const pair = await (await listen())();
    const closed = new Promise<number>((resolve) => pair.client.once('close', (code) => resolve(code)));
    for (let i = 0; i < 5; i++) void pair.server.send(`m${i}`);
    pair.server.close(4321, 'bye');
    expect(await closed).toBe(4321);
    expect(text(pair)).toEqual([':m0', ':m1', ':m2', ':m3', ':m4']);
  });

  it('sockets without extensions share one frozen empty extensions object, and still echo and close', async () => {
    const connect = await listen();
    const [a, b] = [await connect(), await connect()];
    const internals = (ws: WebSocket) =>
      ws as unknown as {
        _extensions: object;
        _receiver: { _extensions: object };
        _sender: { _extensions: object };
      };
    const shared = internals(a.serverWs)._extensions;
    expect(Object.isFrozen(shared)).toBe(true);
    expect(internals(b.serverWs)._extensions).toBe(shared);
    expect(internals(a.serverWs)._receiver._extensions).toBe(shared);
    expect(internals(a.serverWs)._sender._extensions).toBe(shared);
    expect(a.serverWs.extensions).toBe('');
    a.server.on('message', (m) => void a.server.send(m.data, { channel: m.channel }));
    a.client.send(encodeTextFrame('', 'hi'));
    await a.receivedCount(1);
    expect(text(a)).toEqual([':hi']);
    const closed = new Promise<number>((resolve) => a.client.once('close', resolve));
    a.server.close(CloseCode.Normal, 'bye');
    expect(await closed).toBe(CloseCode.Normal);
  });

  it.each([
    ['the shared sweep of an interval', () => listen(250)],
    ["a server's own group", () => listen(0, new NodeSocketGroup(250))],
  ])(
    'one ping sweep (%s) terminates the peer that stopped answering and keeps the one that answers',
    async (_, make) => {
      const connect = await make();
      const live = await connect();
      const dead = await connect({ autoPong: false });
      const closed = new Promise<number>((resolve) =>
        dead.server.on('close', (event) => resolve(event.code)),
      );
      expect(await closed).toBe(CloseCode.HeartbeatTimeout);
      expect(live.server.state).toBe('open');
      void live.server.send('still here');
      await live.receivedCount(1);
      expect(text(live)).toEqual([':still here']);
    },
  );

  it("a server's socket group finds its sockets: terminateAll drops them (1006) and leaves the group empty", async () => {
    const group = new NodeSocketGroup(0);
    const connect = await listen(0, group);
    const pairs = [await connect(), await connect()];
    expect(group.size).toBe(2);
    const peers = pairs.map((p) => new Promise<number>((resolve) => p.client.once('close', resolve)));
    const servers = pairs.map(
      (p) => new Promise<number>((resolve) => p.server.on('close', (e) => resolve(e.code))),
    );
    group.terminateAll();
    expect(await Promise.all(peers)).toEqual([CloseCode.Abnormal, CloseCode.Abnormal]);
    expect(await Promise.all(servers)).toEqual([CloseCode.Abnormal, CloseCode.Abnormal]);
    expect(group.size).toBe(0);
  });

  it('anything the peer sends proves it alive, not only a pong; silence since the last ping is death', async () => {
    // Only the group's sweep timer is driven by hand; sockets and `ws` keep real time.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    afterTest(() => vi.useRealTimers());
    const group = new NodeSocketGroup(1000);
    const pair = await (await listen(0, group))({ autoPong: false });
    const codes: number[] = [];
    pair.server.on('close', (event) => codes.push(event.code));
    const closed = new Promise<void>((resolve) => pair.server.on('close', () => resolve()));
    vi.advanceTimersByTime(1000);
    const heard = new Promise<void>((resolve) => pair.server.on('message', () => resolve()));
    pair.client.send(':still talking');
    await heard;
    vi.advanceTimersByTime(1000);
    expect(pair.server.state).toBe('open');
    vi.advanceTimersByTime(1000);
    await closed;
    expect(codes).toEqual([CloseCode.HeartbeatTimeout]);
  });
});
