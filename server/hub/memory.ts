/**
 * The embedded hub for one process: topics, per-topic sequence numbers and a bounded history in memory.
 * Replay and registration happen in one synchronous step, so no message can slip between them.
 * Memory is bounded twice: history per topic (by count and by bytes, ./history.ts), and the number of idle
 * topics kept.
 */
import { newEpoch } from './epoch.ts';
import { DEFAULT_HISTORY_BYTES, type HistoryLimits, type MessageEvent, TopicHistory } from './history.ts';
import type {
  Hub,
  HubEvent,
  HubHistoryPage,
  HubHistoryQuery,
  HubListener,
  HubPublishOptions,
  HubSubscription,
  ResetReason,
} from './hub.ts';

export interface MemoryHubOptions {
  /** Messages kept per topic for resume (default 1000). */
  readonly historySize?: number;
  /**
   * Bytes of message data kept per topic for resume (default DEFAULT_HISTORY_BYTES): the oldest messages go
   * first; a message bigger than this is delivered live but not kept. A resume beyond what is kept is a
   * `history-gap` reset.
   */
  readonly historyBytes?: number;
  /** Topics kept in total; beyond it the least recently published topic without subscribers is forgotten (default 10 000). */
  readonly maxTopics?: number;
}

interface TopicState {
  head: number;
  /** New for every state: this process's history of the topic (a restart or an eviction starts another). */
  readonly epoch: string;
  readonly history: TopicHistory;
  readonly listeners: Set<HubListener>;
  /**
   * The listeners as an array, made on the first delivery after a change: every publish iterates a stable list
   * (a listener may subscribe or unsubscribe others while it runs) without copying the set each time.
   */
  snapshot: HubListener[] | undefined;
}

/** One event object for every listener (they may cache its encoding by identity). */
function deliver(state: TopicState, event: HubEvent): void {
  if (state.listeners.size === 0) return;
  // Deliver to the set as it was when the event was published.
  state.snapshot ??= [...state.listeners];
  for (const listener of state.snapshot) {
    try {
      listener(event);
    } catch {
      // One broken subscriber must not stop delivery to the others.
    }
  }
}

/**
 * Why a resume after `since` (in `epoch`, when given) cannot continue the topic's history, or undefined when
 * it can: the rule a subscription and a history read share.
 */
function resumeReset(
  state: TopicState,
  since: number,
  epoch: string | undefined,
): Exclude<ResetReason, 'subscribed'> | undefined {
  if (epoch !== undefined && epoch !== state.epoch) return 'history-lost';
  if (since > state.head) return 'ahead-of-history';
  if (since + 1 < (state.history.oldestSeq ?? state.head + 1)) return 'history-gap';
  return undefined;
}

export class MemoryHub implements Hub {
  readonly #topics = new Map<string, TopicState>();
  /** The topic published last (already at the end of the Map's order). */
  #last: TopicState | undefined;
  readonly #history: HistoryLimits;
  readonly #maxTopics: number;

  constructor(options: MemoryHubOptions = {}) {
    this.#history = {
      maxMessages: Math.max(1, options.historySize ?? 1000),
      maxBytes: Math.max(0, options.historyBytes ?? DEFAULT_HISTORY_BYTES),
    };
    this.#maxTopics = Math.max(1, options.maxTopics ?? 10_000);
  }

  #topic(name: string): TopicState {
    let state = this.#topics.get(name);
    if (!state) {
      state = {
        head: 0,
        epoch: newEpoch(),
        history: new TopicHistory(this.#history),
        listeners: new Set(),
        snapshot: undefined,
      };
      this.#topics.set(name, state);
      this.#evict(name);
    }
    return state;
  }

  #evict(keep: string): void {
    if (this.#topics.size <= this.#maxTopics) return;
    for (const [name, state] of this.#topics) {
      if (this.#topics.size <= this.#maxTopics) return;
      if (state.listeners.size === 0 && name !== keep) this.#topics.delete(name);
    }
  }

  /** `handedOver`: see `HubPublishOptions.handedOver`. */
  publishSync(topic: string, data: unknown, handedOver = false): number {
    const state = this.#topic(topic);
    // Keep Map order "least recently published first" for eviction; a topic published again and again
    // (the common case) is already last.
    if (this.#last !== state) {
      this.#topics.delete(topic);
      this.#topics.set(topic, state);
      this.#last = state;
    }
    const event: MessageEvent = { type: 'msg', topic, seq: ++state.head, data };
    state.history.add(event, handedOver);
    deliver(state, event);
    return event.seq;
  }

  /** Completes at once: returns the sequence number itself (see `Hub.publish`). */
  publish(topic: string, data: unknown, options?: HubPublishOptions): number {
    return this.publishSync(topic, data, options?.handedOver === true);
  }

  publishVolatileSync(topic: string, data: unknown): void {
    // A topic nobody follows is not created for a message that would go nowhere.
    const state = this.#topics.get(topic);
    if (!state || state.listeners.size === 0) return;
    deliver(state, { type: 'volatile', topic, data });
  }

  publishVolatile(topic: string, data: unknown): void {
    this.publishVolatileSync(topic, data);
  }

  async subscribe(
    topic: string,
    since: number | undefined,
    listener: HubListener,
    epoch?: string,
  ): Promise<HubSubscription> {
    const state = this.#topic(topic);
    const reset = (reason: ResetReason) =>
      listener({ type: 'reset', topic, seq: state.head, reason, epoch: state.epoch });
    if (since === undefined) reset('subscribed');
    else {
      const reason = resumeReset(state, since, epoch);
      if (reason) reset(reason);
      else state.history.replay(topic, since, listener);
    }
    state.listeners.add(listener);
    state.snapshot = undefined;
    return {
      unsubscribe: () => {
        if (state.listeners.delete(listener)) state.snapshot = undefined;
      },
    };
  }

  async history(topic: string, query: HubHistoryQuery): Promise<HubHistoryPage> {
    const state = this.#topic(topic);
    const { head, epoch } = state;
    const count = state.history.count;
    const page = (from: number, reset?: HubHistoryPage['reset']): HubHistoryPage => {
      const messages = state.history.page(from, query.limit);
      return { head, epoch, messages, ...(reset ? { reset } : {}) };
    };
    const { since } = query;
    if (since === undefined) return page(count - query.limit);
    const reset = resumeReset(state, since, query.epoch);
    if (reset === 'ahead-of-history') return { head, epoch, messages: [], reset };
    if (reset) return page(0, reset);
    return page(since + 1 - (state.history.oldestSeq ?? head + 1));
  }

  async head(topic: string): Promise<number> {
    return this.#topics.get(topic)?.head ?? 0;
  }

  /** Number of topics currently held (for tests and metrics). */
  get topicCount(): number {
    return this.#topics.size;
  }

  async close(): Promise<void> {
    for (const state of this.#topics.values()) {
      state.listeners.clear();
      state.snapshot = undefined;
    }
    this.#topics.clear();
    this.#last = undefined;
  }
}
