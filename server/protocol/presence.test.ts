/**
 * Presence on the wire, seen from raw WebSocket peers (test/protocol-peer.ts): join, leave and members, the
 * info limit, and the app's presence and presence-read decisions.
 */
import { describe, expect, it } from 'vitest';
import type { JoinEnvelope, MembersEnvelope } from '../../src/envelope.ts';
import { MAX_PRESENCE_INFO_BYTES } from '../../src/presence.ts';
import { protocolPeers } from '../../test/protocol-peer.ts';

const wire = protocolPeers();
const { start, greeted } = wire;

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
    expect(wire.protocol.presence?.members('room')).toHaveLength(1);
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
    expect(wire.protocol.presence?.members('secret')).toEqual([{ client: expect.any(String), user: 'ada' }]);
    a.send({ type: 'sub', topic: 'open', presence: true });
    expect(await a.next('join')).toMatchObject({ topic: 'open', client: { user: 'ada' } });
  });
});
