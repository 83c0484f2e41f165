/**
 * The Redis hub: the `Hub` contract across any number of server processes. A publish is one script (one round
 * trip): the topic's sequence number (HINCRBY), its history entry (XADD `<seq>-0` into a Stream trimmed by count
 * and age) and the fan-out (PUBLISH on the topic's channel) happen in one atomic step, so the pub/sub order is
 * the sequence order on every node. A node follows a topic's channel while it has local subscribers, decodes
 * each message once and hands one event object to all of them (the protocol encodes it once per codec).
 *
 * No gap, no duplicate: a topic's channel is subscribed before any history is read, so every message is either
 * in the history read or arrives live afterwards (or both: live copies at or below the last delivered sequence
 * are dropped). Pub/sub itself may lose messages (a dropped subscriber connection, an output-buffer limit): a
 * live message that skips a sequence number, or a reconnect to Redis, makes the node read the missing range
 * from the Stream before delivering anything newer. History that is gone becomes an explicit `reset`.
 *
 * On a Redis Cluster a topic's keys share its hash tag and live delivery is sharded pub/sub: a publish touches
 * one shard, and a shard's outage or a slot move touches only the topics on it.
 *
 * This file holds the `Hub` API and the pub/sub link (which channels the node follows, and what a Redis
 * outage does to them); hub-calls.ts holds the round trips (publish and history scripts), hub-topic.ts the
 * per-topic state and its catch-up.
 */
import type {
  Hub,
  HubHistoryPage,
  HubHistoryQuery,
  HubListener,
  HubPublishOptions,
  HubSubscription,
} from '../hub/hub.ts';
import type { RedisLink } from './connection.ts';
import { HubCalls, type RedisHubOptions } from './hub-calls.ts';
import { HubTopic, type Member } from './hub-topic.ts';

export type { RedisHubOptions } from './hub-calls.ts';

export class RedisHub implements Hub {
  readonly #link: RedisLink;
  readonly #calls: HubCalls;
  readonly #topics = new Map<string, HubTopic>();
  /** Counters for tests, health and the bench. */
  readonly stats = { published: 0, received: 0, catchUps: 0, resets: 0 };

  constructor(link: RedisLink, options: RedisHubOptions = {}) {
    this.#link = link;
    this.#calls = new HubCalls(link, options);
    link.onDown((_reason, channels) => {
      for (const state of this.#affected(channels)) state.syncing = true;
    });
    link.onUp(({ epochChanged, channels }) => {
      for (const state of this.#affected(channels)) void state.catchUp(epochChanged);
    });
  }

  /** The topics a shard's outage or return touches: those on its channels (all of them on a single Redis). */
  #affected(channels: readonly string[]): HubTopic[] {
    if (!this.#link.sharded) return [...this.#topics.values()];
    const set = new Set(channels);
    return [...this.#topics.values()].filter((state) => set.has(state.channel));
  }

  async publish(topic: string, data: unknown, options?: HubPublishOptions): Promise<number> {
    const seq = await this.#calls.publish(topic, data, options);
    this.stats.published++;
    return seq;
  }

  publishVolatile(topic: string, data: unknown): Promise<void> {
    return this.#calls.publishVolatile(topic, data);
  }

  head(topic: string): Promise<number> {
    return this.#calls.head(topic);
  }

  /** History without following the topic's channel (the server API's reads). */
  history(topic: string, query: HubHistoryQuery): Promise<HubHistoryPage> {
    return this.#calls.history(topic, query);
  }

  async subscribe(
    topic: string,
    since: number | undefined,
    listener: HubListener,
    epoch?: string,
  ): Promise<HubSubscription> {
    const state = this.#topics.get(topic) ?? this.#open(topic);
    const member: Member = { listener, last: since ?? 0, buffer: [] };
    state.members.add(member);
    const leave = () => {
      state.members.delete(member);
      if (state.members.size === 0 && this.#topics.get(topic) === state) {
        this.#topics.delete(topic);
        this.#link.unsubscribe(state.channel, state.onMessage);
      }
    };
    try {
      await state.ready;
      await state.join(member, since, epoch);
    } catch (error) {
      leave();
      throw error;
    }
    return { unsubscribe: leave };
  }

  /** Starts following a topic: its channel first, then its head (so nothing falls between the two). */
  #open(topic: string): HubTopic {
    const state = new HubTopic(topic, this.#calls.keys(topic).channel, this.#calls, this.stats);
    this.#topics.set(topic, state);
    state.ready = (async () => {
      await this.#link.subscribe(state.channel, state.onMessage);
      await state.start();
    })();
    // A failed start is reported to the subscriber that waits on it; the next one starts over.
    state.ready.catch(() => {
      if (this.#topics.get(topic) === state) {
        this.#topics.delete(topic);
        this.#link.unsubscribe(state.channel, state.onMessage);
      }
    });
    return state;
  }

  /** Topics this node follows (for tests and metrics). */
  get topicCount(): number {
    return this.#topics.size;
  }

  async close(): Promise<void> {
    for (const state of this.#topics.values()) {
      state.members.clear();
      this.#link.unsubscribe(state.channel, state.onMessage);
    }
    this.#topics.clear();
  }
}
