/**
 * SessionMembers keeps its one usual member without an array (memory per idle connection): the bookkeeping
 * must stay exact across the switch between one member and several, in both directions; a MemorySession is its
 * own member list.
 */
import { describe, expect, it } from 'vitest';
import { MemorySession, type SessionMember, SessionMembers } from './sessions.ts';

function member(name: string, log: string[]): SessionMember {
  return { replace: () => log.push(`replaced ${name}`) };
}

describe('SessionMembers', () => {
  it('counts one member, several, and none again; deleting a stranger changes nothing', () => {
    const log: string[] = [];
    const members = new SessionMembers(3);
    const [a, b, c] = [member('a', log), member('b', log), member('c', log)];
    expect(members.size).toBe(0);
    members.delete(a);
    expect(members.size).toBe(0);
    members.add(a);
    members.add(a);
    expect(members.size).toBe(1);
    members.delete(b);
    expect(members.size).toBe(1);
    members.add(b);
    members.add(b);
    members.add(c);
    expect(members.size).toBe(3);
    members.delete(b);
    expect(members.size).toBe(2);
    members.delete(a);
    expect(members.size).toBe(1);
    // The one left is c: adding it again is a no-op, deleting it empties the set.
    members.add(c);
    expect(members.size).toBe(1);
    members.delete(a);
    expect(members.size).toBe(1);
    members.delete(c);
    expect(members.size).toBe(0);
    expect(log).toEqual([]);
  });

  it('a member beyond the bound pushes the oldest out, one at a time, in order', () => {
    const log: string[] = [];
    const members = new SessionMembers(2);
    const [a, b, c, d] = [member('a', log), member('b', log), member('c', log), member('d', log)];
    members.add(a);
    members.add(b);
    members.add(c);
    expect(log).toEqual(['replaced a']);
    members.add(d);
    expect(log).toEqual(['replaced a', 'replaced b']);
    expect(members.size).toBe(2);
    // a is gone: deleting it again leaves c and d.
    members.delete(a);
    expect(members.size).toBe(2);
  });

  it('with a bound of one, each newcomer replaces the member before it', () => {
    const log: string[] = [];
    const members = new SessionMembers(1);
    const [a, b] = [member('a', log), member('b', log)];
    members.add(a);
    members.add(b);
    expect(log).toEqual(['replaced a']);
    expect(members.size).toBe(1);
    members.delete(a);
    expect(members.size).toBe(1);
    members.delete(b);
    expect(members.size).toBe(0);
  });
});

describe('MemorySession', () => {
  it('is its own member list (one object per idle session), bounded like any other', () => {
    const log: string[] = [];
    const session = new MemorySession('s1', 16, 2);
    expect(session.connections).toBe(session);
    const [a, b, c] = [member('a', log), member('b', log), member('c', log)];
    session.connections.add(a);
    session.connections.add(b);
    session.connections.add(c);
    expect(session.connections.size).toBe(2);
    expect(log).toEqual(['replaced a']);
    session.connections.delete(b);
    session.connections.delete(c);
    expect(session.connections.size).toBe(0);
  });
});
