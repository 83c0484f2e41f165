/**
 * Presence across nodes on Redis. Per topic a hash `pres:{topic}` (client -> `<node> <member JSON>`) and a
 * channel `pchan:{topic}` that the scripts announce every change on (presence-scripts.ts). A node follows a
 * topic's channel only while one of its connections watches that topic's presence, so topics nobody watches
 * cost no fan-out at all: that is why presence has its own channel instead of riding the hub's, where every
 * subscriber on every node would be handed every join and leave.
 *
 * A killed node cannot say goodbye for its clients. Every node that holds members is listed in `presnodes`, with
 * the topics it holds members of in `presnode:{node}`; every `sweepMs` each node checks the listed nodes'
 * liveness keys (RedisLink: refreshed every `livenessMs`, alive for 3 of them) and one of the survivors purges
 * a dead node's members topic by topic, announcing each leave. Bound: a SIGKILLed node's clients leave
 * everyone's presence within 3 x livenessMs + sweepMs (+ one script per topic), 4 s with the defaults.
 *
 * A node that lost Redis keeps its members in memory and writes them all again when Redis is back (the others
 * may have purged it meanwhile, or Redis may have lost its data); leaves that failed are retried then too.
 */
import type { PresenceMember } from '../../src/presence.ts';
import type { PresenceChange, PresenceListener, PresenceStore } from '../presence/store.ts';
import type { RedisLink } from './connection.ts';
import { PRESENCE_JOIN, PRESENCE_LEAVE, PRESENCE_PURGE } from './presence-scripts.ts';

export interface RedisPresenceOptions {
  /** How often this node looks for dead nodes' members (default 1000 ms). */
  readonly sweepMs?: number;
}

const SPACE = 0x20;

export class RedisPresence implements PresenceStore {
  readonly #link: RedisLink;
  /** Members held by this node's connections, per topic: what to write again after an outage. */
  readonly #local = new Map<string, Map<string, PresenceMember>>();
  /** Leaves that could not reach Redis: retried when it is back. */
  readonly #failedLeaves = new Map<string, Set<string>>();
  readonly #watchers = new Map<
    string,
    { listeners: Set<PresenceListener>; onMessage: (m: Buffer) => void }
  >();
  #registered = false;
  readonly #sweep: ReturnType<typeof setInterval>;
  #sweeping = false;
  /** Counters for tests and the bench. */
  readonly stats = { joins: 0, leaves: 0, purged: 0, rejoined: 0 };

  constructor(link: RedisLink, options: RedisPresenceOptions = {}) {
    this.#link = link;
    link.onDown(() => {
      this.#registered = false;
    });
    link.onUp(() => void this.#restore());
    this.#sweep = setInterval(() => void this.sweep(), Math.max(50, options.sweepMs ?? 1000));
    this.#sweep.unref?.();
  }

  // link.tag, as the hub's topic keys: a topic such as `}x` would otherwise give an empty tag, and the hash
  // and the channel would hash whole, to different slots.
  #hash(topic: string): string {
    return this.#link.key('pres', this.#link.tag(topic));
  }

  #channel(topic: string): string {
    return this.#link.key('pchan', this.#link.tag(topic));
  }

  #nodeTopics(node: string): string {
    return this.#link.key('presnode', `{${node}}`);
  }

  async join(topic: string, member: PresenceMember): Promise<void> {
    let members = this.#local.get(topic);
    const first = !members;
    if (!members) {
      members = new Map();
      this.#local.set(topic, members);
    }
    members.set(member.client, member);
    this.#failedLeaves.get(topic)?.delete(member.client);
    // Every command is sent before the first await: one connection keeps them in order, so the registry is
    // written before the member (a purge after a crash finds every member) and a leave that follows at once
    // cannot overtake the join.
    await Promise.all([...this.#register(topic, first), this.#write(topic, member)]);
  }

  #register(topic: string, first: boolean): Promise<unknown>[] {
    const node = this.#link.nodeId;
    const sent: Promise<unknown>[] = [];
    if (!this.#registered) {
      this.#registered = true;
      sent.push(
        this.#link
          .call((r) => r.sadd(this.#link.key('presnodes'), node))
          .catch((error: unknown) => {
            this.#registered = false;
            throw error;
          }),
      );
    }
    if (first) sent.push(this.#link.call((r) => r.sadd(this.#nodeTopics(node), topic)));
    return sent;
  }

  async #write(topic: string, member: PresenceMember): Promise<void> {
    const entry = `${this.#link.nodeId} ${JSON.stringify(member)}`;
    await this.#link.script(
      PRESENCE_JOIN,
      [this.#hash(topic)],
      [member.client, entry, this.#channel(topic), this.#link.publishCommand],
    );
    this.stats.joins++;
  }

  async leave(topic: string, client: string): Promise<void> {
    const members = this.#local.get(topic);
    if (!members?.delete(client)) return;
    if (members.size === 0) this.#local.delete(topic);
    try {
      await this.#link.script(
        PRESENCE_LEAVE,
        [this.#hash(topic)],
        [client, this.#channel(topic), this.#link.publishCommand],
      );
      this.stats.leaves++;
      if (members.size === 0 && !this.#local.has(topic)) {
        await this.#link.call((r) => r.srem(this.#nodeTopics(this.#link.nodeId), topic));
      }
    } catch (error) {
      let failed = this.#failedLeaves.get(topic);
      if (!failed) {
        failed = new Set();
        this.#failedLeaves.set(topic, failed);
      }
      failed.add(client);
      throw error;
    }
  }

  async members(topic: string): Promise<PresenceMember[]> {
    const entries = await this.#link.call((r) => r.hvals(this.#hash(topic)));
    const members: PresenceMember[] = [];
    for (const entry of entries) {
      const member = parseEntry(entry);
      if (member) members.push(member);
    }
    return members;
  }

  async watch(topic: string, listener: PresenceListener): Promise<() => void> {
    let watching = this.#watchers.get(topic);
    if (!watching) {
      const listeners = new Set<PresenceListener>();
      const onMessage = (message: Buffer) => {
        const change = parseChange(topic, message);
        if (!change) return;
        for (const l of [...listeners]) {
          try {
            l(change);
          } catch {
            // One broken watcher must not keep the news from the others.
          }
        }
      };
      watching = { listeners, onMessage };
      this.#watchers.set(topic, watching);
      try {
        await this.#link.subscribe(this.#channel(topic), onMessage);
      } catch (error) {
        if (this.#watchers.get(topic) === watching) this.#watchers.delete(topic);
        throw error;
      }
    }
    watching.listeners.add(listener);
    const current = watching;
    return () => {
      current.listeners.delete(listener);
      if (current.listeners.size > 0 || this.#watchers.get(topic) !== current) return;
      this.#watchers.delete(topic);
      this.#link.unsubscribe(this.#channel(topic), current.onMessage);
    };
  }

  /**
   * Purges the members of nodes whose liveness key expired (one survivor per dead node claims the work). Runs
   * every `sweepMs`; exposed for tests.
   */
  async sweep(): Promise<void> {
    if (this.#sweeping || this.#link.state !== 'up') return;
    this.#sweeping = true;
    try {
      const nodesKey = this.#link.key('presnodes');
      const nodes = await this.#link.call((r) => r.smembers(nodesKey));
      for (const node of nodes) {
        if (node === this.#link.nodeId || (await this.#link.isAlive(node))) continue;
        const claim = this.#link.key('presclean', `{${node}}`);
        const claimed = await this.#link.call((r) => r.set(claim, this.#link.nodeId, 'PX', 30_000, 'NX'));
        if (claimed !== 'OK') continue;
        const topics = await this.#link.call((r) => r.smembers(this.#nodeTopics(node)));
        for (const topic of topics) {
          const removed = await this.#link.script(
            PRESENCE_PURGE,
            [this.#hash(topic)],
            [node, this.#channel(topic), this.#link.publishCommand],
          );
          this.stats.purged += Number(removed);
        }
        await this.#link.call((r) => r.del(this.#nodeTopics(node)));
        await this.#link.call((r) => r.srem(nodesKey, node));
        await this.#link.call((r) => r.del(claim));
      }
    } catch {
      // Redis is down or slow: the next sweep tries again.
    } finally {
      this.#sweeping = false;
    }
  }

  /** After an outage: every local member written again, failed leaves retried. */
  async #restore(): Promise<void> {
    try {
      for (const [topic, clients] of [...this.#failedLeaves]) {
        for (const client of [...clients]) {
          await this.#link.script(
            PRESENCE_LEAVE,
            [this.#hash(topic)],
            [client, this.#channel(topic), this.#link.publishCommand],
          );
          clients.delete(client);
        }
        if (clients.size === 0) this.#failedLeaves.delete(topic);
      }
      for (const [topic, members] of [...this.#local]) {
        await Promise.all(this.#register(topic, true));
        for (const member of [...members.values()]) {
          // Left meanwhile: writing it back would outlive its leave.
          if (this.#local.get(topic)?.get(member.client) !== member) continue;
          await this.#write(topic, member);
          this.stats.rejoined++;
        }
      }
    } catch {
      // Down again: the next `up` restores.
    }
  }

  /** Topics this node holds members of (for tests and the bench). */
  get topicCount(): number {
    return this.#local.size;
  }

  /** Removes this node's members everywhere (a graceful shutdown: nobody has to wait for the sweep). */
  async close(): Promise<void> {
    clearInterval(this.#sweep);
    for (const [topic, watching] of this.#watchers) {
      this.#link.unsubscribe(this.#channel(topic), watching.onMessage);
    }
    this.#watchers.clear();
    const node = this.#link.nodeId;
    for (const [topic, members] of [...this.#local]) {
      for (const client of [...members.keys()]) await this.leave(topic, client).catch(() => undefined);
    }
    await this.#link.call((r) => r.del(this.#nodeTopics(node))).catch(() => undefined);
    await this.#link.call((r) => r.srem(this.#link.key('presnodes'), node)).catch(() => undefined);
  }
}

function parseMember(json: string): PresenceMember | undefined {
  try {
    const value = JSON.parse(json) as PresenceMember;
    return typeof value === 'object' && value !== null && typeof value.client === 'string'
      ? value
      : undefined;
  } catch {
    return undefined;
  }
}

function parseEntry(entry: string): PresenceMember | undefined {
  const space = entry.indexOf(' ');
  return space < 0 ? undefined : parseMember(entry.slice(space + 1));
}

function parseChange(topic: string, message: Buffer): PresenceChange | undefined {
  if (message.length < 3 || message[1] !== SPACE) return undefined;
  const action = message[0] === 0x6a ? 'join' : message[0] === 0x6c ? 'leave' : undefined;
  const member = action && parseMember(message.toString('utf8', 2));
  return action && member ? { action, topic, member } : undefined;
}
