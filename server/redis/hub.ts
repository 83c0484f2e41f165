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
 */
import { createHash } from 'node:crypto';
import { decode, encode } from '@msgpack/msgpack';
import { newEpoch } from '../hub/epoch.ts';
import type {
  Hub,
  HubEvent,
  HubListener,
  HubPublishOptions,
  HubSubscription,
  ResetReason,
} from '../hub/hub.ts';
import type { RedisLink } from './connection.ts';
import { PUBLISH, REPLAY } from './scripts.ts';

export interface RedisHubOptions {
  /** Entries kept per topic, at least (MAXLEN ~; default 1000). */
  readonly historySize?: number;
  /** Entries older than this are not replayed and are trimmed (default 24 h). */
  readonly historyWindowMs?: number;
  /** A topic's sequence counter outlives its last publish by this long (default 30 days). */
  readonly topicTtlMs?: number;
  /** How long an idempotency key makes a re-sent publish a no-op (default 10 min). */
  readonly idempotencyTtlMs?: number;
  /** Entries read per history round trip (default 500). */
  readonly replayPageSize?: number;
  /** The clock stamped on entries and used for the age window (tests inject one). */
  readonly now?: () => number;
}

interface Member {
  readonly listener: HubListener;
  /** Last sequence handed to this listener. */
  last: number;
  /** Live events held back while the member's own history read runs; null once it is live. */
  buffer: HubEvent[] | null;
}

interface TopicState {
  readonly topic: string;
  readonly channel: string;
  readonly members: Set<Member>;
  /** Highest sequence delivered live on this node; undefined until the topic's head was read. */
  lastSeq: number | undefined;
  /** The epoch `lastSeq` belongs to ('' until the topic's head was read). */
  epoch: string;
  /** A range is being read from the Stream (start, gap, reconnect): live events wait in `pending`. */
  syncing: boolean;
  pending: HubEvent[];
  /** The catch-up running now, and whether another must follow it (single flight per topic). */
  catching: boolean;
  again: { epochChanged: boolean } | undefined;
  /** Last time a stale live copy made the node check the head (a counter that went back). */
  checkedAt: number;
  ready: Promise<void>;
  readonly onMessage: (message: Buffer) => void;
}

type MsgEvent = Extract<HubEvent, { type: 'msg' }>;

interface ReplayResult {
  readonly head: number;
  readonly status: 'ok' | ResetReason;
  /** The topic's epoch: one continuous numbering (Redis keeps it beside the head). */
  readonly epoch: string;
  readonly entries: { seq: number; data: unknown }[];
}

const SPACE = 0x20;

function decodeData(bytes: Uint8Array): unknown {
  return bytes.byteLength === 0 ? undefined : decode(bytes);
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function deliver(member: Member, event: HubEvent): void {
  try {
    member.listener(event);
  } catch {
    // One broken subscriber must not stop delivery to the others.
  }
}

export class RedisHub implements Hub {
  readonly #link: RedisLink;
  readonly #topics = new Map<string, TopicState>();
  readonly #historySize: number;
  readonly #windowMs: number;
  readonly #topicTtlMs: number;
  readonly #idempotencyTtlMs: number;
  readonly #pageSize: number;
  readonly #now: () => number;
  /** Counters for tests, health and the bench. */
  readonly stats = { published: 0, received: 0, catchUps: 0, resets: 0 };

  constructor(link: RedisLink, options: RedisHubOptions = {}) {
    this.#link = link;
    this.#historySize = Math.max(1, options.historySize ?? 1000);
    this.#windowMs = Math.max(1000, options.historyWindowMs ?? 24 * 60 * 60 * 1000);
    this.#topicTtlMs = Math.max(this.#windowMs, options.topicTtlMs ?? 30 * 24 * 60 * 60 * 1000);
    this.#idempotencyTtlMs = Math.max(1000, options.idempotencyTtlMs ?? 10 * 60 * 1000);
    this.#pageSize = Math.max(1, options.replayPageSize ?? 500);
    this.#now = options.now ?? Date.now;
    link.onDown(() => {
      for (const state of this.#topics.values()) state.syncing = true;
    });
    link.onUp(({ epochChanged }) => {
      for (const state of this.#topics.values()) void this.#catchUp(state, epochChanged);
    });
  }

  #keys(topic: string): { meta: string; history: string; channel: string } {
    return {
      meta: this.#link.key('seq', topic),
      history: this.#link.key('hist', topic),
      channel: this.#link.key('chan', topic),
    };
  }

  async publish(topic: string, data: unknown, options?: HubPublishOptions): Promise<number> {
    const keys = this.#keys(topic);
    const key = options?.idempotencyKey;
    const idem = key === undefined ? '' : createHash('sha256').update(key).digest('base64url');
    const seq = await this.#link.script(
      PUBLISH,
      [keys.meta, keys.history, keys.channel, this.#link.key('idem', idem)],
      [
        toBuffer(encode(data, { ignoreUndefined: true })),
        this.#now(),
        this.#historySize,
        this.#windowMs,
        this.#topicTtlMs,
        key === undefined ? 0 : this.#idempotencyTtlMs,
        newEpoch(),
      ],
    );
    this.stats.published++;
    return Number(seq);
  }

  async publishVolatile(topic: string, data: unknown): Promise<void> {
    const payload = Buffer.concat([Buffer.from('v '), encode(data, { ignoreUndefined: true })]);
    await this.#link.call((redis) => redis.publish(this.#keys(topic).channel, payload));
  }

  async head(topic: string): Promise<number> {
    const value = await this.#link.call((redis) => redis.hget(this.#keys(topic).meta, 's'));
    return Number(value ?? 0);
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
      await this.#join(state, member, since, epoch);
    } catch (error) {
      leave();
      throw error;
    }
    return { unsubscribe: leave };
  }

  /** Starts following a topic: its channel first, then its head (so nothing falls between the two). */
  #open(topic: string): TopicState {
    const keys = this.#keys(topic);
    const state: TopicState = {
      topic,
      channel: keys.channel,
      members: new Set(),
      lastSeq: undefined,
      epoch: '',
      syncing: true,
      pending: [],
      catching: false,
      again: undefined,
      checkedAt: 0,
      ready: Promise.resolve(),
      onMessage: (message) => this.#onMessage(state, message),
    };
    this.#topics.set(topic, state);
    state.ready = (async () => {
      await this.#link.subscribe(state.channel, state.onMessage);
      const { head, epoch } = await this.#replay(topic, -1);
      if (state.lastSeq === undefined) {
        state.lastSeq = head;
        state.epoch = epoch;
      }
      this.#drain(state);
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

  /** A new member: its history (or a reset), then the live events that arrived meanwhile, above what it got. */
  async #join(
    state: TopicState,
    member: Member,
    since: number | undefined,
    epoch: string | undefined,
  ): Promise<void> {
    let position = since ?? -1;
    for (;;) {
      const result = await this.#replay(state.topic, position, epoch);
      if (result.status !== 'ok') {
        member.last = result.head;
        deliver(member, {
          type: 'reset',
          topic: state.topic,
          seq: result.head,
          reason: result.status,
          epoch: result.epoch,
        });
        break;
      }
      for (const entry of result.entries) {
        deliver(member, { type: 'msg', topic: state.topic, seq: entry.seq, data: entry.data });
        member.last = entry.seq;
      }
      if (position < 0 || result.entries.length < this.#pageSize || member.last >= result.head) break;
      position = member.last;
    }
    const buffered = member.buffer ?? [];
    member.buffer = null;
    for (const event of buffered) this.#offer(member, event);
  }

  /** Hands a live event to a member: msg only above its position; reset always (it moves the position). */
  #offer(member: Member, event: HubEvent): void {
    if (member.buffer) {
      member.buffer.push(event);
      return;
    }
    if (event.type === 'msg') {
      if (event.seq <= member.last) return;
      member.last = event.seq;
    } else if (event.type === 'reset') member.last = event.seq;
    deliver(member, event);
  }

  #onMessage(state: TopicState, message: Buffer): void {
    const space = message.indexOf(SPACE);
    if (space <= 0) return;
    this.stats.received++;
    const head = message.toString('latin1', 0, space);
    const data = decodeData(message.subarray(space + 1));
    if (head === 'v') {
      const event: HubEvent = { type: 'volatile', topic: state.topic, data };
      for (const member of state.members) if (!member.buffer) deliver(member, event);
      return;
    }
    this.#onLive(state, { type: 'msg', topic: state.topic, seq: Number(head), data });
  }

  #onLive(state: TopicState, event: MsgEvent): void {
    if (state.syncing || state.lastSeq === undefined) {
      state.pending.push(event);
      return;
    }
    if (event.seq <= state.lastSeq) {
      // At or below what was delivered: a live copy of a message already read from history, or a counter
      // that went back (its keys expired or were deleted): a head check, at most once a second, tells which.
      const now = Date.now();
      if (now - state.checkedAt >= 1000) {
        state.checkedAt = now;
        void this.#catchUp(state, false);
      }
      return;
    }
    if (event.seq > state.lastSeq + 1) {
      state.pending.push(event);
      void this.#catchUp(state, false);
      return;
    }
    this.#deliverLive(state, event);
  }

  #deliverLive(state: TopicState, event: HubEvent): void {
    if (event.type === 'msg') {
      if (state.lastSeq !== undefined && event.seq <= state.lastSeq) return;
      state.lastSeq = event.seq;
    } else if (event.type === 'reset') state.lastSeq = event.seq;
    for (const member of state.members) this.#offer(member, event);
  }

  /**
   * Reads what the node missed since `lastSeq` (after a gap or an outage) and delivers it in order; history that
   * is gone, or a Redis that came back without its data (`epochChanged`), is a reset to the current head.
   */
  async #catchUp(state: TopicState, epochChanged: boolean): Promise<void> {
    if (state.lastSeq === undefined) return;
    state.syncing = true;
    if (state.catching) {
      state.again = { epochChanged: epochChanged || (state.again?.epochChanged ?? false) };
      return;
    }
    state.catching = true;
    const ok = await this.#readMissed(state, epochChanged);
    state.catching = false;
    const again = state.again;
    state.again = undefined;
    if (again) return this.#catchUp(state, again.epochChanged);
    if (ok) this.#drain(state);
  }

  async #readMissed(state: TopicState, epochChanged: boolean): Promise<boolean> {
    if (state.lastSeq === undefined) return false;
    this.stats.catchUps++;
    try {
      let position = state.lastSeq;
      for (;;) {
        const result = await this.#replay(
          state.topic,
          epochChanged ? -1 : position,
          state.epoch || undefined,
        );
        if (result.status !== 'ok') {
          this.stats.resets++;
          const reason: ResetReason =
            result.status === 'subscribed'
              ? state.epoch !== '' && result.epoch !== state.epoch
                ? 'history-lost'
                : result.head < position
                  ? 'ahead-of-history'
                  : 'history-gap'
              : result.status;
          state.epoch = result.epoch;
          this.#deliverLive(state, {
            type: 'reset',
            topic: state.topic,
            seq: result.head,
            reason,
            epoch: result.epoch,
          });
          state.pending = state.pending.filter((e) => e.type !== 'msg' || e.seq > result.head);
          break;
        }
        for (const entry of result.entries) {
          this.#deliverLive(state, { type: 'msg', topic: state.topic, seq: entry.seq, data: entry.data });
        }
        position = state.lastSeq;
        if (result.entries.length < this.#pageSize || position >= result.head) break;
      }
    } catch {
      // Redis went away again: stay syncing; its return starts another catch-up.
      return false;
    }
    return true;
  }

  /** Ends a sync: the live events that waited are offered in order (which may start another catch-up). */
  #drain(state: TopicState): void {
    state.syncing = false;
    const pending = state.pending.sort((a, b) => (a.type === 'msg' && b.type === 'msg' ? a.seq - b.seq : 0));
    state.pending = [];
    for (const event of pending) {
      if (event.type === 'msg') this.#onLive(state, event);
      else this.#deliverLive(state, event);
    }
  }

  async #replay(topic: string, since: number, epoch?: string): Promise<ReplayResult> {
    const keys = this.#keys(topic);
    const reply = (await this.#link.script(
      REPLAY,
      [keys.meta, keys.history],
      [since, this.#now(), this.#windowMs, this.#pageSize, newEpoch(), this.#topicTtlMs, epoch ?? ''],
    )) as (number | Buffer)[];
    const head = Number(reply[0]);
    const status = String(reply[1]) as ReplayResult['status'];
    const topicEpoch = String(reply[2]);
    const entries: ReplayResult['entries'] = [];
    for (let i = 3; i + 1 < reply.length; i += 2) {
      entries.push({ seq: Number(String(reply[i])), data: decodeData(reply[i + 1] as Buffer) });
    }
    return { head, status, epoch: topicEpoch, entries };
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
