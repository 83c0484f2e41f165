/**
 * The one interface behind presence: who is on a topic, and join/leave news for the nodes that follow it. The
 * protocol and the server API talk only to this; `MemoryPresence` serves one process, `RedisPresence`
 * (server/redis/presence.ts) any number of nodes. Members are per connection (`client`), so a store never has
 * to decide which of two connections of one client owns an entry.
 */
import type { PresenceMember } from '../../src/presence.ts';

export type { PresenceInfo, PresenceMember } from '../../src/presence.ts';

export interface PresenceChange {
  readonly action: 'join' | 'leave';
  readonly topic: string;
  readonly member: PresenceMember;
}

export type PresenceListener = (change: PresenceChange) => void;

export interface PresenceStore {
  /** Adds `member` to `topic` (replacing an entry of the same `client`) and tells the topic's watchers. */
  join(topic: string, member: PresenceMember): void | Promise<void>;
  /** Removes `client` from `topic` and tells the watchers, if it was there. */
  leave(topic: string, client: string): void | Promise<void>;
  /** The topic's members now, in no particular order. */
  members(topic: string): PresenceMember[] | Promise<PresenceMember[]>;
  /** Calls `listener` for every join and leave on `topic` (from any node) until the returned function is called. */
  watch(topic: string, listener: PresenceListener): Promise<() => void>;
  close(): Promise<void>;
}
