/**
 * The pub/sub contract between the protocol handler and whatever stores topics: the in-memory hub now,
 * Redis later. Every method is async so that a networked hub fits without changing callers; a hub
 * guarantees per-topic order, gap-free delivery to a subscriber, and bounded history.
 */

export interface HubMessage {
  readonly topic: string;
  /** Per-topic sequence number, 1 for the first message of a topic, +1 for each after it. */
  readonly seq: number;
  readonly data: unknown;
}

/**
 * Why a subscriber's position was moved rather than continued:
 * - `subscribed`: a subscription without a position starts at the current head (its baseline);
 * - `history-gap`: the messages after the subscriber's position were trimmed from history;
 * - `ahead-of-history`: the subscriber claims a sequence the hub never reached (e.g. history lost in a restart);
 * - `history-lost`: the subscriber's position belongs to an earlier epoch of the topic: its history was lost
 *   (a restart without persistence, an evicted or expired topic) and numbering started again. Without epochs a
 *   client at 50 whose topic restarted and reached 60 would silently continue at 51 of another history.
 */
export type ResetReason = 'subscribed' | 'history-gap' | 'ahead-of-history' | 'history-lost';

/**
 * What a subscriber receives. A hub hands the *same* event object to every local listener of one message, so
 * that the protocol can encode it once (per codec) and write the same bytes to every subscriber. `data` is what
 * was published: from the protocol, a large JSON `data` is a `RawJson` (src/raw-json.ts; `value()` parses it).
 */
export type HubEvent =
  | { readonly type: 'msg'; readonly topic: string; readonly seq: number; readonly data: unknown }
  /** The subscriber's position is now `seq` (the topic's head): later messages have `seq` above it. */
  | {
      readonly type: 'reset';
      readonly topic: string;
      readonly seq: number;
      readonly reason: ResetReason;
      /** The topic's epoch (changes whenever its numbering starts again): subscribers resume with it. */
      readonly epoch: string;
    }
  /** Unreliable: no sequence, not in history, never replayed; may be dropped anywhere on the way. */
  | { readonly type: 'volatile'; readonly topic: string; readonly data: unknown };

export type HubListener = (event: HubEvent) => void;

export interface HubSubscription {
  unsubscribe(): void;
}

export interface HubPublishOptions {
  /**
   * Makes the publish idempotent where the caller can be lost between the hub's write and its answer (a
   * networked hub, a crashed node): a second publish with the same key within the hub's idempotency window
   * writes nothing and resolves with the first one's sequence number. The embedded hub ignores it (one
   * process: the session's dedup window already covers re-sends).
   */
  readonly idempotencyKey?: string;
  /**
   * The caller hands `data`'s bytes over: nothing writes to them again (the protocol's `pub`s, whose bytes a rung
   * delivered and never reuses: `MessageEvent` in src/transport.ts). The embedded hub then keeps a large binary
   * or raw JSON `data` in the topic's history as it is instead of copying it (server/hub/history.ts). Without it,
   * large bytes are copied into the history, and a caller may reuse its buffer once `publish` returns.
   */
  readonly handedOver?: boolean;
}

/** A read of a topic's history without subscribing (the server API's `GET /rt/api/history`). */
export interface HubHistoryQuery {
  /** The messages after this sequence number; undefined: the last `limit` messages. */
  readonly since?: number;
  /** The epoch `since` belongs to (from an earlier answer); another epoch is a `history-lost` reset. */
  readonly epoch?: string;
  /** At most this many messages, the oldest first. */
  readonly limit: number;
}

export interface HubHistoryPage {
  readonly head: number;
  readonly epoch: string;
  /** In sequence order. After a reset: the oldest messages history still holds (none when ahead of it). */
  readonly messages: readonly { readonly seq: number; readonly data: unknown }[];
  /** Set when `since` cannot be continued: the messages after it are gone, or it belongs to another epoch. */
  readonly reset?: Exclude<ResetReason, 'subscribed'>;
}

export interface Hub {
  /**
   * Appends to the topic's history, fans out to subscribers and returns the message's sequence number. A hub
   * that completes at once (the embedded one) returns the number itself, a networked hub a promise: callers
   * `await` it, and hot paths skip the promise when there is none (a promise per message is measurable).
   */
  publish(topic: string, data: unknown, options?: HubPublishOptions): number | Promise<number>;
  /**
   * Unreliable fan-out (positions, cursors, typing indicators): reaches the topic's current subscribers once,
   * with no sequence number, no history and no resume. A hub may drop it under load; it never blocks on it.
   */
  publishVolatile(topic: string, data: unknown): void | Promise<void>;
  /**
   * Delivers, in order and without gaps or duplicates: the history after `since` (or a `reset` when
   * history cannot fill the gap), then every later message. `since` undefined: a `reset` with reason
   * `subscribed` carrying the current head, then live messages. `epoch`: the topic epoch `since` belongs to
   * (from an earlier `reset`); when the topic's epoch is another one, the answer is a `history-lost` reset.
   */
  subscribe(
    topic: string,
    since: number | undefined,
    listener: HubListener,
    epoch?: string,
  ): Promise<HubSubscription>;
  /**
   * Reads history without subscribing. Optional in the contract (a hub without it answers the server API's
   * history with ERR_UNSUPPORTED); the embedded and the Redis hub have it.
   */
  history?(topic: string, query: HubHistoryQuery): Promise<HubHistoryPage>;
  /** Current head sequence of a topic (0 when nothing was published). */
  head(topic: string): Promise<number>;
  close(): Promise<void>;
}
