/**
 * The Redis hub's round trips: a publish is one script (sequence number, history entry and fan-out in one
 * atomic step), a history read is one script per page, a volatile publish is a bare PUBLISH (SPUBLISH on a
 * Redis Cluster). Here are the
 * keys a topic uses, the arguments each call takes and the decoding of what comes back; the per-topic state
 * (hub-topic.ts) and the pub/sub link (hub.ts) build on it.
 */
import { createHash } from 'node:crypto';
import { decode, encode } from '@msgpack/msgpack';
import { plainData } from '../../src/raw-json.ts';
import { newEpoch } from '../hub/epoch.ts';
import { DEFAULT_HISTORY_BYTES } from '../hub/history.ts';
import type { HubHistoryPage, HubHistoryQuery, HubPublishOptions, ResetReason } from '../hub/hub.ts';
import type { RedisLink } from './connection.ts';
import { HISTORY } from './history.ts';
import { PUBLISH, REPLAY } from './scripts.ts';

export interface RedisHubOptions {
  /** Entries kept per topic, at least (MAXLEN ~; default 1000). */
  readonly historySize?: number;
  /** Entries older than this are not replayed and are trimmed (default 24 h). */
  readonly historyWindowMs?: number;
  /**
   * Bytes of (MessagePack-encoded) data kept per topic (default 4 MiB, as the embedded hub; 0: no byte bound).
   * Past it the oldest entries are trimmed down to 3/4 of it; a resume past them is a `history-gap` reset.
   */
  readonly historyBytes?: number;
  /** A topic's sequence counter outlives its last publish by this long (default 30 days). */
  readonly topicTtlMs?: number;
  /** How long an idempotency key makes a re-sent publish a no-op (default 10 min). */
  readonly idempotencyTtlMs?: number;
  /** Entries read per history round trip (default 500). */
  readonly replayPageSize?: number;
  /** The clock stamped on entries and used for the age window (tests inject one). */
  readonly now?: () => number;
}

export interface ReplayResult {
  readonly head: number;
  readonly status: 'ok' | ResetReason;
  /** The topic's epoch: one continuous numbering (Redis keeps it beside the head). */
  readonly epoch: string;
  readonly entries: { seq: number; data: unknown }[];
}

export function decodeData(bytes: Uint8Array): unknown {
  return bytes.byteLength === 0 ? undefined : decode(bytes);
}

/** The entries of a history or replay script's reply: `seq, data` pairs after head, status and epoch. */
function entriesOf(reply: readonly (number | Buffer)[]): { seq: number; data: unknown }[] {
  const entries: { seq: number; data: unknown }[] = [];
  for (let i = 3; i + 1 < reply.length; i += 2) {
    entries.push({ seq: Number(String(reply[i])), data: decodeData(reply[i + 1] as Buffer) });
  }
  return entries;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class HubCalls {
  readonly #link: RedisLink;
  readonly #historySize: number;
  readonly #windowMs: number;
  readonly #historyBytes: number;
  readonly #topicTtlMs: number;
  readonly #idempotencyTtlMs: number;
  /** Entries read per history round trip: a shorter page means the read reached the head. */
  readonly pageSize: number;
  readonly #now: () => number;

  constructor(link: RedisLink, options: RedisHubOptions) {
    this.#link = link;
    this.#historySize = Math.max(1, options.historySize ?? 1000);
    this.#windowMs = Math.max(1000, options.historyWindowMs ?? 24 * 60 * 60 * 1000);
    this.#historyBytes = Math.max(0, options.historyBytes ?? DEFAULT_HISTORY_BYTES);
    this.#topicTtlMs = Math.max(this.#windowMs, options.topicTtlMs ?? 30 * 24 * 60 * 60 * 1000);
    this.#idempotencyTtlMs = Math.max(1000, options.idempotencyTtlMs ?? 10 * 60 * 1000);
    this.pageSize = Math.max(1, options.replayPageSize ?? 500);
    this.#now = options.now ?? Date.now;
  }

  /**
   * A topic's keys. On a Redis Cluster they share the topic's hash tag (`{topic}`): the sequence hash, the
   * history stream, the channel and the idempotency keys sit in one slot, so one script still publishes
   * atomically on one shard, and its SPUBLISH reaches that shard's subscribers only. A single Redis keeps the
   * untagged names it always had (an upgrade keeps the topics' numbering).
   */
  keys(topic: string): { meta: string; history: string; channel: string; idem: (digest: string) => string } {
    const link = this.#link;
    const name = link.sharded ? link.tag(topic) : topic;
    return {
      meta: link.key('seq', name),
      history: link.key('hist', name),
      channel: link.key('chan', name),
      idem: (digest) => (link.sharded ? link.key('idem', name, digest) : link.key('idem', digest)),
    };
  }

  async publish(topic: string, data: unknown, options?: HubPublishOptions): Promise<number> {
    const keys = this.keys(topic);
    const key = options?.idempotencyKey;
    const idem = key === undefined ? '' : createHash('sha256').update(key).digest('base64url');
    const seq = await this.#link.script(
      PUBLISH,
      [keys.meta, keys.history, keys.channel, keys.idem(idem)],
      [
        // History and other nodes hold MessagePack: a RawJson (a large JSON `pub`) is written as its value.
        toBuffer(encode(plainData(data), { ignoreUndefined: true })),
        this.#now(),
        this.#historySize,
        this.#windowMs,
        this.#topicTtlMs,
        key === undefined ? 0 : this.#idempotencyTtlMs,
        newEpoch(),
        this.#historyBytes,
        this.#link.publishCommand,
      ],
    );
    return Number(seq);
  }

  async publishVolatile(topic: string, data: unknown): Promise<void> {
    const payload = Buffer.concat([Buffer.from('v '), encode(plainData(data), { ignoreUndefined: true })]);
    await this.#link.publish(this.keys(topic).channel, payload);
  }

  async head(topic: string): Promise<number> {
    const { meta } = this.keys(topic);
    const value = await this.#link.call((redis) => redis.hget(meta, 's'), meta);
    return Number(value ?? 0);
  }

  /** A history read without subscribing (`Hub.history`, the server API): one script, one round trip. */
  async history(topic: string, query: HubHistoryQuery): Promise<HubHistoryPage> {
    const keys = this.keys(topic);
    const reply = (await this.#link.script(
      HISTORY,
      [keys.meta, keys.history],
      [
        query.since ?? -1,
        query.limit,
        this.#now(),
        this.#windowMs,
        newEpoch(),
        this.#topicTtlMs,
        query.epoch ?? '',
      ],
    )) as (number | Buffer)[];
    const status = String(reply[1]);
    return {
      head: Number(reply[0]),
      epoch: String(reply[2]),
      messages: entriesOf(reply),
      ...(status === 'ok' ? {} : { reset: status as NonNullable<HubHistoryPage['reset']> }),
    };
  }

  /** One page of history after `since` (-1: none, only the head), or why it cannot be served. */
  async replay(topic: string, since: number, epoch?: string): Promise<ReplayResult> {
    const keys = this.keys(topic);
    const reply = (await this.#link.script(
      REPLAY,
      [keys.meta, keys.history],
      [since, this.#now(), this.#windowMs, this.pageSize, newEpoch(), this.#topicTtlMs, epoch ?? ''],
    )) as (number | Buffer)[];
    const status = String(reply[1]) as ReplayResult['status'];
    return { head: Number(reply[0]), status, epoch: String(reply[2]), entries: entriesOf(reply) };
  }
}
