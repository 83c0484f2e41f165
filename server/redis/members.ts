/**
 * A session's connections counted across nodes (issue 16): the per-session cap (`maxConnectionsPerSession`,
 * close code Replaced for the oldest) holds for the session, not per node. Each connection is a member
 * `<node>|<id>` of a sorted set in Redis beside the session, added in the attach script, which also pops the
 * oldest beyond the cap in the same step; a popped member on another node is told over that node's channel
 * `<prefix>:kick:<node>`. A member of a killed node stays in the set until it is the oldest and is popped
 * (telling a dead node is harmless), or the session expires.
 */
import type { SessionMember } from '../protocol/sessions.ts';
import type { RedisLink } from './connection.ts';

export class NodeMembers {
  readonly #link: RedisLink;
  /** Members of any session that are connected to this node, by their id. */
  readonly #byId = new Map<string, SessionMember>();
  readonly #ids = new WeakMap<SessionMember, string>();
  #next = 0;
  /** Counters for tests and health: members pushed out here on another node's word, and told to other nodes. */
  readonly stats = { replacedHere: 0, replacedElsewhere: 0 };

  constructor(link: RedisLink) {
    this.#link = link;
  }

  #channel(node: string): string {
    return this.#link.key('kick', node);
  }

  /** Listens for this node's members pushed out elsewhere (the link must be up). */
  async start(): Promise<void> {
    await this.#link.subscribe(this.#channel(this.#link.nodeId), (message) => {
      for (const id of message.toString().split(' ')) this.#replaceLocal(id);
    });
  }

  /** The member's id in Redis (made and registered here on first use, before any script can pop it). */
  idOf(member: SessionMember): string {
    let id = this.#ids.get(member);
    if (id === undefined) {
      id = `${this.#link.nodeId}|${(this.#next++).toString(36)}`;
      this.#ids.set(member, id);
      this.#byId.set(id, member);
    }
    return id;
  }

  /** Forgets a member that left (its id is removed from the session's set by the caller). */
  forget(member: SessionMember): string | undefined {
    const id = this.#ids.get(member);
    if (id !== undefined) this.#byId.delete(id);
    return id;
  }

  /** Closes the members the attach script popped: here at once, elsewhere through their node's channel. */
  pushOut(ids: readonly string[]): void {
    const byNode = new Map<string, string[]>();
    for (const id of ids) {
      const node = id.slice(0, id.indexOf('|'));
      if (node === this.#link.nodeId) this.#replaceLocal(id);
      else byNode.set(node, [...(byNode.get(node) ?? []), id]);
    }
    for (const [node, list] of byNode) {
      this.stats.replacedElsewhere += list.length;
      void this.#link.publish(this.#channel(node), list.join(' ')).catch(() => undefined);
    }
  }

  #replaceLocal(id: string): void {
    const member = this.#byId.get(id);
    if (!member) return;
    this.#byId.delete(id);
    this.stats.replacedHere++;
    member.replace();
  }
}
