import { describe, expect, it } from 'vitest';
import { RawJson } from '../../src/raw-json.ts';
import { KEEP_MIN_BYTES, type MessageEvent, PACK_MIN_CHARS, TopicHistory } from './history.ts';

/** A deterministic pseudo-random sequence, so a failure can be replayed. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

describe('TopicHistory', () => {
  it('replays exactly what a model of the bounds keeps, for any mix of small, large, text and binary messages', () => {
    for (const seed of [1, 2, 3]) {
      const next = random(seed);
      const limits = { maxMessages: 40, maxBytes: 300_000 };
      const history = new TopicHistory(limits);
      const kept: { seq: number; data: unknown; bytes: number }[] = [];
      for (let seq = 1; seq <= 400; seq++) {
        const r = next();
        const size = r < 0.4 ? 50 : r < 0.9 ? PACK_MIN_CHARS + Math.floor(next() * 60_000) : 310_000;
        const shape = next();
        // Binary data is handed over half the time, in a buffer of its own or as a view into one 1-3 times its size.
        const handedOver = shape >= 0.5 && next() < 0.5;
        const spare = handedOver ? Math.floor(next() * 3 * size) : 0;
        const data =
          shape < 0.5
            ? `${seq}€`.repeat(Math.ceil(size / 5)).slice(0, size)
            : new Uint8Array(size + spare).fill(seq & 0xff).subarray(spare, spare + size);
        const event: MessageEvent = { type: 'msg', topic: 't', seq, data };
        history.add(event, handedOver);
        const keptAsItIs =
          handedOver && size >= KEEP_MIN_BYTES && size + spare <= 2 * size ? size + spare : 0;
        const bytes =
          typeof data === 'string'
            ? data.length >= PACK_MIN_CHARS
              ? Buffer.byteLength(data)
              : data.length + 2
            : keptAsItIs || data.byteLength;
        // The model keeps what was published (a copy: the caller may scribble on its own buffer below).
        kept.push({ seq, data: typeof data === 'string' ? data : data.slice(), bytes });
        if (bytes > limits.maxBytes) kept.length = 0;
        let total = kept.reduce((n, k) => n + k.bytes, 0);
        while (kept.length > limits.maxMessages || total > limits.maxBytes) total -= kept.shift()!.bytes;
        const replayed: MessageEvent[] = [];
        history.replay('t', 0, (e) => replayed.push(e));
        // The newest messages, without a gap: the model's, or fewer where the circular log wasted its tail on a
        // wrap (at most one message's worth; never below half the budget when the model holds more).
        const suffix = kept.slice(kept.length - replayed.length);
        expect(replayed.map((e) => e.seq)).toEqual(suffix.map((k) => k.seq));
        const replayedBytes = suffix.reduce((n, k) => n + k.bytes, 0);
        expect(replayedBytes).toBeGreaterThanOrEqual(Math.min(total, limits.maxBytes / 2));
        for (let i = 0; i < suffix.length; i++) {
          const want = suffix[i]!.data;
          const got = replayed[i]!.data;
          if (typeof want === 'string') expect(got).toBe(want);
          else expect(Buffer.from(got as Uint8Array).equals(Buffer.from(want as Uint8Array))).toBe(true);
        }
        expect(history.bytes).toBeLessThanOrEqual(limits.maxBytes);
        // Large bytes that were not handed over are the caller's again: history copied them.
        if (!handedOver && typeof data !== 'string' && size >= PACK_MIN_CHARS) data.fill(0);
      }
    }
  });

  const limits = { maxMessages: 100, maxBytes: 4 * 1024 * 1024 };
  const message = (seq: number, data: unknown): MessageEvent => ({ type: 'msg', topic: 't', seq, data });
  const replayed = (history: TopicHistory) => {
    const out: unknown[] = [];
    history.replay('t', 0, (event) => out.push(event.data));
    return out;
  };

  it('keeps handed-over large bytes as they are, counted at the size of the buffer they keep alive', () => {
    const history = new TopicHistory(limits);
    // A MessagePack `pub`'s data: 64 KiB of a frame that also holds the envelope.
    const frame = new Uint8Array(65_536 + 40).fill(7);
    const data = frame.subarray(40);
    const raw = new RawJson(new Uint8Array(KEEP_MIN_BYTES).fill(0x61).subarray(0), true);
    history.add(message(1, data), true);
    history.add(message(2, raw), true);
    const [first, second] = replayed(history);
    expect(first).toBe(data);
    expect(second).toBe(raw);
    expect(history.bytes).toBe(frame.byteLength + KEEP_MIN_BYTES);
  });

  it('copies what it is not handed over, so that the caller may reuse its buffer', () => {
    const history = new TopicHistory(limits);
    const data = new Uint8Array(65_536).fill(7);
    history.add(message(1, data));
    data.fill(0);
    const [kept] = replayed(history) as Uint8Array[];
    expect(kept).not.toBe(data);
    expect(kept!.every((byte) => byte === 7)).toBe(true);
    expect(history.bytes).toBe(65_536);
  });

  it('copies handed-over bytes that are small, or a small part of a bigger buffer', () => {
    const history = new TopicHistory(limits);
    const small = new Uint8Array(KEEP_MIN_BYTES - 1).fill(1);
    // A frame that shared a socket read with others: 40 KiB of a 100 KiB buffer.
    const shared = new Uint8Array(100 * 1024).fill(2).subarray(10, 10 + 40 * 1024);
    history.add(message(1, small), true);
    history.add(message(2, shared), true);
    small.fill(0);
    shared.fill(0);
    const [a, b] = replayed(history) as Uint8Array[];
    expect(a!.every((byte) => byte === 1) && b!.every((byte) => byte === 2)).toBe(true);
    expect(history.bytes).toBe(small.byteLength + shared.byteLength);
  });

  it('drops kept messages by the byte budget as it drops copied ones', () => {
    const history = new TopicHistory({ maxMessages: 100, maxBytes: 256 * 1024 });
    for (let seq = 1; seq <= 10; seq++) history.add(message(seq, new Uint8Array(65_536).fill(seq)), true);
    const kept = replayed(history) as Uint8Array[];
    expect(kept.map((data) => data[0])).toEqual([7, 8, 9, 10]);
    expect(history.bytes).toBe(4 * 65_536);
  });
});
