/**
 * One topic's history for resume in the embedded hub, bounded by message count and by bytes (a topic of 1 MiB
 * messages must not hold 1 GB: count alone bounds memory only for small messages).
 *
 * Large messages are kept as bytes in one buffer per topic (a circular log, grown by doubling up to the byte
 * budget), not as their own objects. A string kept for a while is copied by the garbage collector on every
 * young-generation collection it survives and again when it is promoted: with 1,000 messages of 64 KiB per topic
 * that was about 40 % of the server's CPU on `pub` -> `ack` (docs/benchmarks.md). An ArrayBuffer per message
 * (binary data, or text packed one buffer each) is not copied, but once old it is only freed by a full
 * collection, and those then came every few dozen milliseconds (42 % of the CPU of a MessagePack `pub`). One
 * buffer per topic is neither. A replay decodes or copies the bytes again, which only a resuming client pays.
 *
 * The copy is not free either: the log is megabytes written round and round, never in cache when a message
 * comes back to the same place, and a 64 KiB copy into it cost 11-17 µs of a 50-110 µs `pub` in a loaded server
 * (docs/benchmarks.md, "twelfth round"), against ~2 µs in isolation. So bytes the publisher hands over (a
 * `pub`'s, which no rung writes to again: `HubPublishOptions.handedOver`) are kept as they are from
 * KEEP_MIN_BYTES on, when the message holds at least half of its buffer (a large frame has one of its own), counted at
 * the size of the buffer they keep alive. No new allocation: the frame is already there, and it would have been
 * garbage a moment later; kept, it dies at a mark-compact instead of a scavenge.
 */
import { plainData, RawJson } from '../../src/raw-json.ts';
import type { HubEvent } from './hub.ts';

export type MessageEvent = Extract<HubEvent, { type: 'msg' }>;

export interface HistoryLimits {
  /** Messages kept per topic. */
  readonly maxMessages: number;
  /** Bytes of message data kept per topic (as `approximateSize` counts them). */
  readonly maxBytes: number;
}

/** Default byte budget of one topic's history, in both hubs: 4 MiB (4 messages of 1 MiB, 64 of 64 KiB). */
export const DEFAULT_HISTORY_BYTES = 4 * 1024 * 1024;

/**
 * Handed-over binary or raw JSON data from this size on is kept as it is (not copied into the log) when it holds
 * at least half of its buffer: a message never pins more than twice its bytes, and a small message sharing a
 * socket read with others is copied out of it as before.
 */
export const KEEP_MIN_BYTES = 32 * 1024;

/** Strings from this length on are kept as UTF-8 bytes (below it, the copy costs more than it saves). */
export const PACK_MIN_CHARS = 8 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Node's Buffer counts and decodes UTF-8 faster than TextEncoder/TextDecoder; other runtimes use those. */
const NodeBuffer = (
  globalThis as {
    Buffer?: {
      byteLength(text: string, encoding: 'utf8'): number;
      from(buffer: ArrayBufferLike, offset: number, length: number): { toString(encoding: 'utf8'): string };
    };
  }
).Buffer;

const utf8Length = (text: string) =>
  NodeBuffer ? NodeBuffer.byteLength(text, 'utf8') : encoder.encode(text).byteLength;

const NOT_PACKED = 0;
const TEXT = 1;
const BINARY = 2;
/** A RawJson (a large JSON `pub`'s data, never parsed): its bytes, given back as a RawJson. */
const RAW = 3;
/** The first size of a topic's byte log (it doubles from there up to the budget). */
const MIN_LOG_BYTES = 64 * 1024;

interface Entry {
  readonly seq: number;
  readonly bytes: number;
  /** The live event (and its cached encodings), or undefined when the data was packed into the log. */
  readonly event: MessageEvent | undefined;
  readonly kind: typeof NOT_PACKED | typeof TEXT | typeof BINARY | typeof RAW;
  /** Offset of the packed bytes in the log (moves when the log grows). */
  at: number;
}

/**
 * What a message's data counts for against the byte bound: exact for text (UTF-16 units, which is at least
 * the ASCII byte count) and bytes, an estimate of the JSON size for other values. Walks at most `MAX_NODES`
 * values, so a huge object costs a bounded amount to measure (and counts as at least what was walked).
 */
export function approximateSize(data: unknown): number {
  // The common cases without the walker (a closure per call on every publish).
  if (typeof data === 'string') return data.length + 2;
  if (data === null || typeof data !== 'object') return 8;
  if (data instanceof RawJson) return data.byteLength;
  let nodes = 0;
  const walk = (value: unknown, depth: number): number => {
    if (++nodes > MAX_NODES || depth > MAX_DEPTH) return 0;
    if (typeof value === 'string') return value.length + 2;
    if (value === null || typeof value !== 'object') return 8;
    if (value instanceof Uint8Array) return value.byteLength;
    let size = 2;
    if (Array.isArray(value)) {
      for (const item of value) size += walk(item, depth + 1) + 1;
      return size;
    }
    for (const key in value) {
      size += key.length + 4 + walk((value as Record<string, unknown>)[key], depth + 1);
    }
    return size;
  };
  return walk(data, 0);
}

const MAX_NODES = 10_000;
const MAX_DEPTH = 32;

/**
 * The bytes a handed-over `data` keeps alive when kept as it is (its whole buffer), or 0 when it is to be copied:
 * not bytes, too small, a small part of a bigger buffer, or a buffer that can change size or be shared.
 */
function keptBytes(data: unknown): number {
  const view = data instanceof RawJson ? data.bytes : data instanceof Uint8Array ? data : undefined;
  if (view === undefined || view.byteLength < KEEP_MIN_BYTES) return 0;
  const buffer = view.buffer;
  if (!(buffer instanceof ArrayBuffer) || (buffer as { resizable?: boolean }).resizable === true) return 0;
  return buffer.byteLength <= 2 * view.byteLength ? buffer.byteLength : 0;
}

/** Text that survives a UTF-8 round trip (a lone surrogate would not: such strings are kept as they are). */
function packable(text: string): boolean {
  const wellFormed = (text as { isWellFormed?: () => boolean }).isWellFormed;
  return text.length >= PACK_MIN_CHARS && wellFormed !== undefined && wellFormed.call(text);
}

export class TopicHistory {
  readonly #limits: HistoryLimits;
  /** Circular, grown by doubling up to `maxMessages` (an idle topic holds a small array, not 1,000 slots). */
  #ring: (Entry | undefined)[] = new Array(4);
  #start = 0;
  #count = 0;
  #bytes = 0;
  /** The packed messages' bytes; made on the first large message. */
  #log: Uint8Array | undefined;
  /** Where the next packed message goes. */
  #cursor = 0;

  constructor(limits: HistoryLimits) {
    this.#limits = limits;
  }

  get count(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Sequence number of the oldest message kept, or undefined when none is. */
  get oldestSeq(): number | undefined {
    return this.#count > 0 ? (this.#ring[this.#start] as Entry).seq : undefined;
  }

  /** `handedOver`: nothing writes to the data's bytes again, so they may be kept without a copy. */
  add(event: MessageEvent, handedOver = false): void {
    const data = event.data;
    const kept = handedOver ? keptBytes(data) : 0;
    const kind =
      kept > 0
        ? NOT_PACKED
        : typeof data === 'string'
          ? packable(data)
            ? TEXT
            : NOT_PACKED
          : data instanceof RawJson
            ? RAW
            : data instanceof Uint8Array && data.byteLength >= PACK_MIN_CHARS
              ? BINARY
              : NOT_PACKED;
    const bytes =
      kept > 0
        ? kept
        : kind === TEXT
          ? utf8Length(data as string)
          : kind === BINARY
            ? (data as Uint8Array).byteLength
            : kind === RAW
              ? (data as RawJson).byteLength
              : approximateSize(data);
    // A message bigger than the whole budget is not kept, and nothing older fits beside it: a resume across it
    // is an explicit reset.
    if (bytes > this.#limits.maxBytes) {
      while (this.#count > 0) this.#dropOldest();
      return;
    }
    let at = -1;
    if (kind !== NOT_PACKED) {
      at = this.#reserve(bytes);
      const log = this.#log as Uint8Array;
      if (kind === TEXT) encoder.encodeInto(data as string, log.subarray(at, at + bytes));
      else log.set(kind === RAW ? (data as RawJson).bytes : (data as Uint8Array), at);
    }
    const entry: Entry = { seq: event.seq, bytes, event: kind === NOT_PACKED ? event : undefined, kind, at };
    if (this.#count === this.#ring.length) this.#grow();
    this.#ring[(this.#start + this.#count) % this.#ring.length] = entry;
    this.#count++;
    this.#bytes += bytes;
    while (
      this.#count > 0 &&
      (this.#count > this.#limits.maxMessages || this.#bytes > this.#limits.maxBytes)
    ) {
      this.#dropOldest();
    }
  }

  /** Calls `listener` with every kept message after `since`, oldest first. */
  replay(topic: string, since: number, listener: (event: MessageEvent) => void): void {
    for (let i = 0; i < this.#count; i++) {
      const entry = this.#entry(i);
      if (entry.seq <= since) continue;
      listener(entry.event ?? { type: 'msg', topic, seq: entry.seq, data: this.#unpack(entry) });
    }
  }

  /**
   * Up to `limit` kept messages from the `from`-th oldest on (a history page), data unpacked: as values (a
   * RawJson parsed), for the app or the server API that reads them.
   */
  page(from: number, limit: number): { seq: number; data: unknown }[] {
    const out: { seq: number; data: unknown }[] = [];
    for (let i = Math.max(0, from); i < this.#count && out.length < limit; i++) {
      const entry = this.#entry(i);
      out.push({ seq: entry.seq, data: plainData(entry.event ? entry.event.data : this.#unpack(entry)) });
    }
    return out;
  }

  #entry(i: number): Entry {
    return this.#ring[(this.#start + i) % this.#ring.length] as Entry;
  }

  #unpack(entry: Entry): string | Uint8Array | RawJson {
    const log = this.#log as Uint8Array;
    if (entry.kind === BINARY) return log.slice(entry.at, entry.at + entry.bytes);
    // Validated when it arrived; a copy, as the log's bytes are overwritten later.
    if (entry.kind === RAW) return new RawJson(log.slice(entry.at, entry.at + entry.bytes), true);
    return NodeBuffer
      ? NodeBuffer.from(log.buffer, log.byteOffset + entry.at, entry.bytes).toString('utf8')
      : decoder.decode(log.subarray(entry.at, entry.at + entry.bytes));
  }

  /**
   * Where `length` bytes go in the log: after the newest packed message, or from the start when they do not fit
   * before the end. The oldest messages whose bytes would be overwritten are dropped first (in order: whatever
   * is older than them goes too), so the log never holds a half-overwritten message.
   */
  #reserve(length: number): number {
    let log = this.#log;
    if (!log || (this.#cursor + length > log.byteLength && log.byteLength < this.#limits.maxBytes)) {
      log = this.#growLog(length);
    }
    const wraps = this.#cursor + length > log.byteLength;
    const from = wraps ? 0 : this.#cursor;
    for (;;) {
      const oldest = this.#oldestPacked();
      if (!oldest) break;
      // Wrapping abandons the tail after the cursor: what is there is the oldest and goes first.
      const overlaps =
        (wraps && oldest.at >= this.#cursor) ||
        (oldest.at < from + length && oldest.at + oldest.bytes > from);
      if (!overlaps) break;
      this.#dropOldest();
    }
    this.#cursor = from + length;
    return from;
  }

  #oldestPacked(): Entry | undefined {
    for (let i = 0; i < this.#count; i++) {
      const entry = this.#entry(i);
      if (entry.kind !== NOT_PACKED) return entry;
    }
    return undefined;
  }

  /** A log twice as big (up to the budget) with the kept messages' bytes moved to its start, oldest first. */
  #growLog(length: number): Uint8Array {
    const old = this.#log;
    let size = Math.max(MIN_LOG_BYTES, (old?.byteLength ?? 0) * 2);
    while (size < this.#bytes + length) size *= 2;
    const log = new Uint8Array(Math.min(size, this.#limits.maxBytes));
    let cursor = 0;
    for (let i = 0; i < this.#count; i++) {
      const entry = this.#entry(i);
      // Every packed message fits: together they are at most the budget, and the log is grown to it if need be.
      if (entry.kind === NOT_PACKED || !old) continue;
      log.set(old.subarray(entry.at, entry.at + entry.bytes), cursor);
      entry.at = cursor;
      cursor += entry.bytes;
    }
    this.#log = log;
    this.#cursor = cursor;
    return log;
  }

  #dropOldest(): void {
    const entry = this.#ring[this.#start] as Entry;
    this.#ring[this.#start] = undefined;
    this.#start = (this.#start + 1) % this.#ring.length;
    this.#count--;
    this.#bytes -= entry.bytes;
  }

  #grow(): void {
    const size = Math.min(Math.max(4, this.#ring.length * 2), Math.max(this.#limits.maxMessages + 1, 4));
    const ring: (Entry | undefined)[] = new Array(size);
    for (let i = 0; i < this.#count; i++) ring[i] = this.#ring[(this.#start + i) % this.#ring.length];
    this.#ring = ring;
    this.#start = 0;
  }
}
