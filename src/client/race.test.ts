/** The race (happy eyeballs) and the hello gate on fake timers: who starts when, who wins, who is closed. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HelloGate, type RaceOptions, type RaceResult, raceRungs, TokenSupply } from './race.ts';

interface Rung {
  index: number;
  startedAt: number;
  opened: () => void;
  pass: () => void;
  fail: (error?: unknown) => void;
}

/** A race over `count` fake rungs that the test passes or fails by hand. */
function harness(count: number, overrides: Partial<RaceOptions<number>> = {}) {
  const rungs: Rung[] = [];
  const late: number[] = [];
  const decided: boolean[] = [];
  let result: RaceResult<number> | undefined;
  void raceRungs<number>({
    count,
    headStartMs: 250,
    start: (index, opened) =>
      new Promise<number>((resolve, reject) => {
        rungs.push({
          index,
          startedAt: Date.now(),
          opened,
          pass: () => resolve(index),
          fail: (error = new Error(`rung ${index} failed`)) => reject(error),
        });
      }),
    accept: () => true,
    late: (value) => void late.push(value),
    final: (error) => (error as { fatal?: boolean }).fatal === true,
    decided: (won) => void decided.push(won),
    stopped: () => false,
    ...overrides,
  }).then((r) => {
    result = r;
  });
  return {
    rungs,
    late,
    decided,
    result: () => result,
    started: () => rungs.map((r) => r.index),
  };
}

const tick = (ms: number) => vi.advanceTimersByTimeAsync(ms);

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('raceRungs', () => {
  it('a best rung that passes within its head start is the only one ever started', async () => {
    const h = harness(3);
    await tick(200);
    h.rungs[0]!.pass();
    await tick(5000);
    expect(h.started()).toEqual([0]);
    expect(h.result()).toEqual({ won: true, value: 0, index: 0 });
    expect(h.decided).toEqual([true]);
  });

  it('starts the next rung after each head start while none answers, and takes the first that passes', async () => {
    const h = harness(3);
    await tick(249);
    expect(h.started()).toEqual([0]);
    await tick(1);
    expect(h.started()).toEqual([0, 1]);
    await tick(250);
    expect(h.rungs.map((r) => r.startedAt)).toEqual([0, 250, 500]);
    h.rungs[2]!.pass();
    await tick(0);
    expect(h.result()).toMatchObject({ won: true, index: 2 });
    // A better rung that passes after the winner was taken is closed, never used.
    h.rungs[0]!.pass();
    await tick(0);
    expect(h.late).toEqual([0]);
  });

  it('a failure starts the next rung at once, without waiting out the head start', async () => {
    const h = harness(3);
    await tick(30);
    h.rungs[0]!.fail();
    await tick(0);
    expect(h.rungs.map((r) => r.startedAt)).toEqual([0, 30]);
    h.rungs[1]!.fail();
    await tick(0);
    expect(h.rungs.map((r) => r.startedAt)).toEqual([0, 30, 30]);
  });

  it('an older rung failing leaves the newest its head start', async () => {
    const h = harness(3);
    await tick(250);
    await tick(100);
    h.rungs[0]!.fail();
    await tick(0);
    expect(h.started()).toEqual([0, 1]);
    await tick(150);
    expect(h.rungs.map((r) => r.startedAt)).toEqual([0, 250, 500]);
  });

  it('a rung that opened within its head start gets as long again for its handshake', async () => {
    const h = harness(2);
    await tick(200);
    h.rungs[0]!.opened();
    await tick(249);
    expect(h.started()).toEqual([0]);
    await tick(1);
    expect(h.rungs.map((r) => r.startedAt)).toEqual([0, 450]);
    // Only once, and only the newest rung: opening late does not hold back a rung already started.
    h.rungs[0]!.opened();
    h.rungs[1]!.opened();
    h.rungs[1]!.opened();
  });

  it('a final failure (fatal close) ends the race and abandons the rest', async () => {
    const h = harness(3);
    await tick(250);
    h.rungs[1]!.fail(Object.assign(new Error('unauthorized'), { fatal: true }));
    await tick(1000);
    expect(h.started()).toEqual([0, 1]);
    expect(h.result()).toMatchObject({ won: false, final: { message: 'unauthorized' } });
    expect(h.decided).toEqual([false]);
  });

  it('ends without a winner once every rung failed, with each failure by index', async () => {
    const h = harness(2);
    await tick(250);
    h.rungs[1]!.fail();
    await tick(0);
    expect(h.result()).toBeUndefined();
    h.rungs[0]!.fail();
    await tick(0);
    const result = h.result();
    expect(result?.won).toBe(false);
    expect(result && !result.won && result.failures.map((f) => (f as Error).message)).toEqual([
      'rung 0 failed',
      'rung 1 failed',
    ]);
  });

  it('a passed rung the client cannot take counts as failed and the race goes on', async () => {
    const h = harness(2, { accept: (value) => value !== 0 });
    h.rungs[0]!.pass();
    await tick(0);
    expect(h.started()).toEqual([0, 1]);
    h.rungs[1]!.pass();
    await tick(0);
    expect(h.result()).toMatchObject({ won: true, index: 1 });
  });

  it('starts nothing more once stopped', async () => {
    let stopped = false;
    const h = harness(3, { stopped: () => stopped });
    stopped = true;
    await tick(1000);
    expect(h.started()).toEqual([0]);
    h.rungs[0]!.fail();
    await tick(0);
    expect(h.result()).toMatchObject({ won: false });
  });
});

describe('HelloGate', () => {
  const sent = () => {
    const log: string[] = [];
    return {
      log,
      as: (attempt: number) => (session: string | undefined) => log.push(`${attempt}:${session}`),
    };
  };

  it('one hello at a time; a rung that opens meanwhile joins the session the first one got', () => {
    const gate = new HelloGate(() => undefined, 250);
    const s = sent();
    gate.hello(1, s.as(1));
    gate.hello(2, s.as(2));
    expect(s.log).toEqual(['1:undefined']);
    gate.welcome(1, 'S');
    expect(s.log).toEqual(['1:undefined', '2:S']);
    gate.hello(3, s.as(3));
    expect(s.log.at(-1)).toBe('3:S');
  });

  it('the session known before the race goes in the first hello', () => {
    const gate = new HelloGate(() => 'old', 250);
    const s = sent();
    gate.hello(1, s.as(1));
    expect(s.log).toEqual(['1:old']);
  });

  it('a hello whose attempt failed lets the next held one go at once', () => {
    const gate = new HelloGate(() => undefined, 250);
    const s = sent();
    gate.hello(1, s.as(1));
    gate.hello(2, s.as(2));
    gate.hello(3, s.as(3));
    gate.gone(1);
    expect(s.log).toEqual(['1:undefined', '2:undefined']);
    gate.gone(3);
    gate.gone(2);
    expect(s.log).toEqual(['1:undefined', '2:undefined']);
  });

  it('a hello unanswered for holdMs (dropped after the upgrade) no longer holds the others', async () => {
    const gate = new HelloGate(() => undefined, 250);
    const s = sent();
    gate.hello(1, s.as(1));
    await vi.advanceTimersByTimeAsync(100);
    gate.hello(2, s.as(2));
    await vi.advanceTimersByTimeAsync(149);
    expect(s.log).toEqual(['1:undefined']);
    await vi.advanceTimersByTimeAsync(1);
    expect(s.log).toEqual(['1:undefined', '2:undefined']);
    // A held hello whose attempt ended before its turn is never sent.
    gate.hello(3, s.as(3));
    gate.gone(3);
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.log).toHaveLength(2);
  });
});

describe('TokenSupply', () => {
  it('rung 0 takes the round token; each other rung fetches its own once, prefetched or not', async () => {
    let n = 0;
    const supply = new TokenSupply('t0', async () => `t${++n}`);
    expect(supply.get(0)).toBe('t0');
    const prefetched = supply.get(2);
    expect(await supply.get(2)).toBe('t1');
    expect(supply.get(2)).toBe(prefetched);
    expect(await supply.get(1)).toBe('t2');
    expect(n).toBe(2);
  });

  it('without a token callback every rung gets the round token, and nothing is fetched', () => {
    const supply = new TokenSupply(undefined, undefined);
    expect([supply.get(0), supply.get(1), supply.get(2)]).toEqual([undefined, undefined, undefined]);
  });

  it('a failed fetch fails only the rung that uses it, and is not an unhandled rejection', async () => {
    const supply = new TokenSupply('t0', () => Promise.reject(new Error('token service down')));
    await expect(supply.get(1)).rejects.toThrow('token service down');
    expect(supply.get(0)).toBe('t0');
  });
});
