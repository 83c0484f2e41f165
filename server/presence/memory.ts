/**
 * Presence for one process: a map per topic, news handed straight to this process's watchers. The embedded
 * default, like the in-memory hub; with several nodes use RedisPresence instead.
 */
import type { PresenceMember } from '../../src/presence.ts';
import type { PresenceChange, PresenceListener, PresenceStore } from './store.ts';

export class MemoryPresence implements PresenceStore {
  readonly #topics = new Map<string, Map<string, PresenceMember>>();
  readonly #watchers = new Map<string, Set<PresenceListener>>();

  join(topic: string, member: PresenceMember): void {
    let members = this.#topics.get(topic);
    if (!members) {
      members = new Map();
      this.#topics.set(topic, members);
    }
    members.set(member.client, member);
    this.#tell({ action: 'join', topic, member });
  }

  leave(topic: string, client: string): void {
    const members = this.#topics.get(topic);
    const member = members?.get(client);
    if (!members || !member) return;
    members.delete(client);
    if (members.size === 0) this.#topics.delete(topic);
    this.#tell({ action: 'leave', topic, member });
  }

  members(topic: string): PresenceMember[] {
    return [...(this.#topics.get(topic)?.values() ?? [])];
  }

  async watch(topic: string, listener: PresenceListener): Promise<() => void> {
    let watchers = this.#watchers.get(topic);
    if (!watchers) {
      watchers = new Set();
      this.#watchers.set(topic, watchers);
    }
    watchers.add(listener);
    const set = watchers;
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#watchers.get(topic) === set) this.#watchers.delete(topic);
    };
  }

  /** Topics with at least one member (for tests and the bench). */
  get topicCount(): number {
    return this.#topics.size;
  }

  #tell(change: PresenceChange): void {
    const watchers = this.#watchers.get(change.topic);
    if (!watchers) return;
    for (const listener of [...watchers]) {
      try {
        listener(change);
      } catch {
        // One broken watcher must not keep the news from the others.
      }
    }
  }

  async close(): Promise<void> {
    this.#topics.clear();
    this.#watchers.clear();
  }
}
