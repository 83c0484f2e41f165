/**
 * The bench's verdict on a target (bench/lib/stats.ts): a sign test over per-round ratios. These are the
 * thresholds docs/benchmarks.md states, on numbers a reader can check by hand.
 */
import { describe, expect, it } from 'vitest';
import { signTail, verdict } from '../bench/lib/stats.ts';

describe('signTail', () => {
  it('is the upper tail of Binomial(n, 1/2)', () => {
    expect(signTail(8, 8)).toBe(1 / 256);
    expect(signTail(8, 7)).toBe(9 / 256);
    expect(signTail(8, 6)).toBe(37 / 256);
    expect(signTail(4, 4)).toBe(1 / 16);
    expect(signTail(8, 0)).toBe(1);
    expect(signTail(8, 9)).toBe(0);
  });
});

describe('verdict', () => {
  const rounds = (above: number, below: number) => [
    ...Array<number>(above).fill(1.02),
    ...Array<number>(below).fill(0.81),
  ];

  it('says met when 7 of 8 rounds reach the target, and not at 6', () => {
    expect(verdict(rounds(7, 1), 0.9)).toBe('met');
    expect(verdict(rounds(8, 0), 0.9)).toBe('met');
    expect(verdict(rounds(6, 2), 0.9)).toBe('undecided');
  });

  it('says missed when 7 of 8 rounds fall short', () => {
    expect(verdict(rounds(1, 7), 0.9)).toBe('missed');
    expect(verdict(rounds(2, 6), 0.9)).toBe('undecided');
  });

  it('cannot decide with 4 rounds, however they fall', () => {
    expect(verdict(rounds(4, 0), 0.9)).toBe('undecided');
    expect(verdict(rounds(0, 4), 0.9)).toBe('undecided');
  });

  it('counts a round exactly at the target as reaching it', () => {
    expect(verdict(Array<number>(8).fill(0.9), 0.9)).toBe('met');
  });
});
