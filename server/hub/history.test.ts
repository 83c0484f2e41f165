import { describe, expect, it } from 'vitest';
import { type MessageEvent, PACK_MIN_CHARS, TopicHistory } from './history.ts';

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
        const data =
          next() < 0.5
            ? `${seq}€`.repeat(Math.ceil(size / 5)).slice(0, size)
            : new Uint8Array(size).fill(seq & 0xff);
        const event: MessageEvent = { type: 'msg', topic: 't', seq, data };
        history.add(event);
        const bytes =
          typeof data === 'string'
            ? data.length >= PACK_MIN_CHARS
              ? Buffer.byteLength(data)
              : data.length + 2
            : data.byteLength;
        kept.push({ seq, data, bytes });
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
      }
    }
  });
});
