/**
 * Presence on the wire, one process, raw WebSocket peers (no client logic): a `sub` makes the peer present and,
 * with `presence: true`, brings `join`/`leave`; `presence` is answered with `members`; an oversize `info` refuses
 * the whole `sub`; the app's `authorize` turns presence off (`presence`) or hides it (`presence-read`); the
 * user is who `authenticate` said.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Envelope, JoinEnvelope, MembersEnvelope } from '../../src/envelope.ts';
import { MAX_PRESENCE_INFO_BYTES } from '../../src/presence.ts';
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

async function start(options: Partial<ProtocolOptions> = {}): Promise<MemoryHub> {
  const hub = new MemoryHub();
  protocol = createProtocol({ hub, heartbeatMs: 60_000, ...options });
  server = await startNodeServer({ onConnection: protocol.onConnection });
  return hub;
}

async function peer() {
  const transport = createNodeWebSocketTransport({ url: `${server?.url.replace('http', 'ws')}/rt/ws` });
  const received: Envelope[] = [];
  const waiters: (() => void)[] = [];
  transport.on('message', (e) => {
    received.push(JSON.parse(e.data as string) as Envelope);
    for (const w of waiters.splice(0)) w();
  });
  await new Promise<void>((resolve) => transport.on('open', () => resolve()));
  let cursor = 0;
  const p = {
    transport,
    received,
    send: (envelope: Envelope) => void transport.send(JSON.stringify(envelope)),
    async next<T extends Envelope['type']>(type: T): Promise<Extract<Envelope, { type: T }>> {
      for (;;) {
        while (cursor < received.length) {
          const e = received[cursor++] as Envelope;
          if (e.type === type) return e as Extract<Envelope, { type: T }>;
        }
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
  };
  p.send({ type: 'hello', v: 1 });
  await p.next('welcome');
  return p;
}

describe('presence on the wire', () => {
  it('sub makes a member; followers hear join and leave; presence answers with members', async () => {
    await start();
    const a = await peer();
    a.send({ type: 'sub', topic: 'room', presence: true, info: { name: 'a' } });
    const self = (await a.next('join')) as JoinEnvelope;
    expect(self).toMatchObject({ topic: 'room', client: { info: { name: 'a' } } });
    expect(self.client.user).toBeUndefined();
    const b = await peer();
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
    const a = await peer();
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
    const a = await peer();
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
