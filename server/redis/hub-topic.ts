/**
 * One topic a node follows through the Redis hub: its local members, the highest sequence delivered live,
 * and the catch-up that keeps "no gap, no duplicate". Live events wait while a range is read from the Stream
 * (start, gap, reconnect); a live message that skips a sequence number starts a catch-up (single flight per
 * topic); history that is gone becomes an explicit `reset`. A new member gets its own history first, then
 * the live events that arrived meanwhile, above what it got.
 */
import type { HubEvent, HubListener, ResetReason } from '../hub/hub.ts';
import { decodeData, type HubCalls } from './hub-calls.ts';

export interface Member {
  readonly listener: HubListener;
  /** Last sequence handed to this listener. */
  last: number;
  /** Live events held back while the member's own history read runs; null once it is live. */
  buffer: HubEvent[] | null;
}

/** Counters for tests, health and the bench (the hub's `stats`). */
export interface HubStats {
  published: number;
  received: number;
  catchUps: number;
  resets: number;
}

type MsgEvent = Extract<HubEvent, { type: 'msg' }>;

const SPACE = 0x20;

function deliver(member: Member, event: HubEvent): void {
  try {
    member.listener(event);
  } catch {
    // One broken subscriber must not stop delivery to the others.
  }
}

export class HubTopic {
  readonly topic: string;
  readonly channel: string;
  readonly members = new Set<Member>();
  /** Highest sequence delivered live on this node; undefined until the topic's head was read. */
  lastSeq: number | undefined = undefined;
  /** The epoch `lastSeq` belongs to ('' until the topic's head was read). */
  epoch = '';
  /** A range is being read from the Stream (start, gap, reconnect): live events wait in `pending`. */
  syncing = true;
  pending: HubEvent[] = [];
  /** The catch-up running now, and whether another must follow it (single flight per topic). */
  #catching = false;
  #again: { epochChanged: boolean } | undefined = undefined;
  /** Last time a stale live copy made the node check the head (a counter that went back). */
  #checkedAt = 0;
  ready: Promise<void> = Promise.resolve();
  /** The pub/sub listener for this topic's channel. */
  readonly onMessage: (message: Buffer) => void;
  readonly #calls: HubCalls;
  readonly #stats: HubStats;

  constructor(topic: string, channel: string, calls: HubCalls, stats: HubStats) {
    this.topic = topic;
    this.channel = channel;
    this.#calls = calls;
    this.#stats = stats;
    this.onMessage = (message) => this.#onMessage(message);
  }

  /** Reads the topic's head once its channel is subscribed (so nothing falls between the two). */
  async start(): Promise<void> {
    const { head, epoch } = await this.#calls.replay(this.topic, -1);
    if (this.lastSeq === undefined) {
      this.lastSeq = head;
      this.epoch = epoch;
    }
    this.drain();
  }

  /** A new member: its history (or a reset), then the live events that arrived meanwhile, above what it got. */
  async join(member: Member, since: number | undefined, epoch: string | undefined): Promise<void> {
    let position = since ?? -1;
    for (;;) {
      const result = await this.#calls.replay(this.topic, position, epoch);
      if (result.status !== 'ok') {
        member.last = result.head;
        deliver(member, {
          type: 'reset',
          topic: this.topic,
          seq: result.head,
          reason: result.status,
          epoch: result.epoch,
        });
        break;
      }
      for (const entry of result.entries) {
        deliver(member, { type: 'msg', topic: this.topic, seq: entry.seq, data: entry.data });
        member.last = entry.seq;
      }
      if (position < 0 || result.entries.length < this.#calls.pageSize || member.last >= result.head) break;
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

  #onMessage(message: Buffer): void {
    const space = message.indexOf(SPACE);
    if (space <= 0) return;
    this.#stats.received++;
    const head = message.toString('latin1', 0, space);
    const data = decodeData(message.subarray(space + 1));
    if (head === 'v') {
      const event: HubEvent = { type: 'volatile', topic: this.topic, data };
      for (const member of this.members) if (!member.buffer) deliver(member, event);
      return;
    }
    this.#onLive({ type: 'msg', topic: this.topic, seq: Number(head), data });
  }

  #onLive(event: MsgEvent): void {
    if (this.syncing || this.lastSeq === undefined) {
      this.pending.push(event);
      return;
    }
    if (event.seq <= this.lastSeq) {
      // At or below what was delivered: a live copy of a message already read from history, or a counter
      // that went back (its keys expired or were deleted): a head check, at most once a second, tells which.
      const now = Date.now();
      if (now - this.#checkedAt >= 1000) {
        this.#checkedAt = now;
        void this.catchUp(false);
      }
      return;
    }
    if (event.seq > this.lastSeq + 1) {
      this.pending.push(event);
      void this.catchUp(false);
      return;
    }
    this.#deliverLive(event);
  }

  #deliverLive(event: HubEvent): void {
    if (event.type === 'msg') {
      if (this.lastSeq !== undefined && event.seq <= this.lastSeq) return;
      this.lastSeq = event.seq;
    } else if (event.type === 'reset') this.lastSeq = event.seq;
    for (const member of this.members) this.#offer(member, event);
  }

  /**
   * Reads what the node missed since `lastSeq` (after a gap or an outage) and delivers it in order; history that
   * is gone, or a Redis that came back without its data (`epochChanged`), is a reset to the current head.
   */
  async catchUp(epochChanged: boolean): Promise<void> {
    if (this.lastSeq === undefined) return;
    this.syncing = true;
    if (this.#catching) {
      this.#again = { epochChanged: epochChanged || (this.#again?.epochChanged ?? false) };
      return;
    }
    this.#catching = true;
    const ok = await this.#readMissed(epochChanged);
    this.#catching = false;
    const again = this.#again;
    this.#again = undefined;
    if (again) return this.catchUp(again.epochChanged);
    if (ok) this.drain();
  }

  async #readMissed(epochChanged: boolean): Promise<boolean> {
    if (this.lastSeq === undefined) return false;
    this.#stats.catchUps++;
    try {
      let position = this.lastSeq;
      for (;;) {
        const result = await this.#calls.replay(
          this.topic,
          epochChanged ? -1 : position,
          this.epoch || undefined,
        );
        if (result.status !== 'ok') {
          this.#stats.resets++;
          const reason: ResetReason =
            result.status === 'subscribed'
              ? this.epoch !== '' && result.epoch !== this.epoch
                ? 'history-lost'
                : result.head < position
                  ? 'ahead-of-history'
                  : 'history-gap'
              : result.status;
          this.epoch = result.epoch;
          this.#deliverLive({
            type: 'reset',
            topic: this.topic,
            seq: result.head,
            reason,
            epoch: result.epoch,
          });
          this.pending = this.pending.filter((e) => e.type !== 'msg' || e.seq > result.head);
          break;
        }
        for (const entry of result.entries) {
          this.#deliverLive({ type: 'msg', topic: this.topic, seq: entry.seq, data: entry.data });
        }
        position = this.lastSeq;
        if (result.entries.length < this.#calls.pageSize || position >= result.head) break;
      }
    } catch {
      // Redis went away again: stay syncing; its return starts another catch-up.
      return false;
    }
    return true;
  }

  /** Ends a sync: the live events that waited are offered in order (which may start another catch-up). */
  drain(): void {
    this.syncing = false;
    const pending = this.pending.sort((a, b) => (a.type === 'msg' && b.type === 'msg' ? a.seq - b.seq : 0));
    this.pending = [];
    for (const event of pending) {
      if (event.type === 'msg') this.#onLive(event);
      else this.#deliverLive(event);
    }
  }
}
