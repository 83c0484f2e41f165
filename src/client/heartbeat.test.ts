/** The heartbeat's promise, checked for every phase at which the path can go silent: dead within 2 intervals. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Heartbeat } from './heartbeat.ts';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('Heartbeat', () => {
  it('declares a silent path dead within two intervals, whatever the phase of the silence', () => {
    const interval = 100;
    for (let silentAt = 0; silentAt < 3 * interval; silentAt += 7) {
      let now = 0;
      let silent = false;
      let deadAt = -1;
      const hb: Heartbeat = new Heartbeat(
        interval,
        // An answering peer replies at once until the path goes silent.
        (id) => {
          if (!silent) hb.pong(id);
        },
        () => {
          deadAt = now;
        },
      );
      while (deadAt < 0 && now < 10 * interval) {
        if (now === silentAt) silent = true;
        vi.advanceTimersByTime(1);
        now++;
        if (now === silentAt) silent = true;
      }
      hb.stop();
      expect(deadAt - silentAt).toBeLessThanOrEqual(2 * interval);
      expect(deadAt).toBeGreaterThan(silentAt);
    }
  });

  it('a healthy peer is never declared dead; only the latest ping counts', () => {
    let dead = false;
    const ids: number[] = [];
    const hb = new Heartbeat(
      50,
      (id) => ids.push(id),
      () => {
        dead = true;
      },
    );
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersByTime(50);
      hb.pong(ids.at(-1) as number);
    }
    expect(dead).toBe(false);
    vi.advanceTimersByTime(50);
    hb.pong(ids.at(-2) as number); // a stale pong does not count
    vi.advanceTimersByTime(50);
    expect(dead).toBe(true);
  });
});
