/**
 * One topic's history for resume in the embedded hub, bounded by message count and by bytes (a topic of 1 MiB
 * messages must not hold 1 GB: count alone bounds memory only for small messages).
 *
 * Large text is kept as UTF-8 bytes, not as the JavaScript string. A string kept for a while is copied by the
 * garbage collector on every young-generation collection it survives and again when it is promoted: with 1,000
 * messages of 64 KiB per topic that was about 40 % of the server's CPU on `pub` -> `ack` (docs/benchmarks.md).
 * Bytes outside the JavaScript heap are never copied; a replay decodes them again, which only a resuming
 * client pays for.
 */
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

/** Strings from this length on are kept as UTF-8 bytes (below it, the copy costs more than it saves). */
export const PACK_MIN_CHARS = 8 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Node's Buffer encodes and decodes UTF-8 faster than TextEncoder/TextDecoder; other runtimes use those. */
const NodeBuffer = (
  globalThis as {
    Buffer?: {
      from(text: string, encoding: 'utf8'): Uint8Array & { toString(encoding: 'utf8'): string };
    };
  }
).Buffer;

function pack(text: string): Uint8Array {
  return NodeBuffer ? NodeBuffer.from(text, 'utf8') : encoder.encode(text);
}

function unpack(bytes: Uint8Array): string {
  return NodeBuffer
    ? (bytes as Uint8Array & { toString(encoding: 'utf8'): string }).toString('utf8')
    : decoder.decode(bytes);
}

interface Entry {
  readonly seq: number;
  readonly bytes: number;
  /** The live event (and its cached encodings), or undefined when the data was packed. */
  readonly event: MessageEvent | undefined;
  readonly packed: Uint8Array | undefined;
}

/**
 * What a message's data counts for against the byte bound: exact for text (UTF-16 units, which is at least
 * the ASCII byte count) and bytes, an estimate of the JSON size for other values. Walks at most `MAX_NODES`
 * values, so a huge object costs a bounded amount to measure (and counts as at least what was walked).
 */
export function approximateSize(data: unknown): number {
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

  add(event: MessageEvent): void {
    const data = event.data;
    let entry: Entry;
    if (typeof data === 'string' && packable(data)) {
      const packed = pack(data);
      entry = { seq: event.seq, bytes: packed.byteLength, event: undefined, packed };
    } else {
      entry = { seq: event.seq, bytes: approximateSize(data), event, packed: undefined };
    }
    if (this.#count === this.#ring.length) this.#grow();
    this.#ring[(this.#start + this.#count) % this.#ring.length] = entry;
    this.#count++;
    this.#bytes += entry.bytes;
    // A message bigger than the whole budget is not kept at all: a resume across it is an explicit reset.
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
      const entry = this.#ring[(this.#start + i) % this.#ring.length] as Entry;
      if (entry.seq <= since) continue;
      listener(
        entry.event ?? {
          type: 'msg',
          topic,
          seq: entry.seq,
          data: unpack(entry.packed as Uint8Array),
        },
      );
    }
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
