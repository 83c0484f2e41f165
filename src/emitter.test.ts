import { describe, expect, it, vi } from 'vitest';
import { Emitter } from './emitter.ts';

interface Events {
  a: number;
  b: string;
}

describe('Emitter', () => {
  it('delivers to one listener, to several in subscription order, and not after off', () => {
    const events = new Emitter<Events>();
    const seen: string[] = [];
    events.emit('a', 0);
    const offFirst = events.on('a', (n) => seen.push(`first ${n}`));
    events.emit('a', 1);
    events.on('a', (n) => seen.push(`second ${n}`));
    events.on('b', (s) => seen.push(`b ${s}`));
    events.emit('a', 2);
    offFirst();
    events.emit('a', 3);
    events.emit('b', 'x');
    expect(seen).toEqual(['first 1', 'first 2', 'second 2', 'second 3', 'b x']);
  });

  it('keeps a listener added twice once, and forgets a single listener on off', () => {
    const events = new Emitter<Events>();
    const listener = vi.fn();
    events.on('a', listener);
    events.on('a', listener);
    events.emit('a', 1);
    expect(listener).toHaveBeenCalledTimes(1);
    events.off('a', listener);
    events.emit('a', 2);
    expect(listener).toHaveBeenCalledTimes(1);
    events.off('a', listener);
  });

  it('a listener added while emitting runs from the next event on', () => {
    const events = new Emitter<Events>();
    const seen: number[] = [];
    events.on('a', (n) => {
      seen.push(n);
      if (n === 1) events.on('a', (m) => seen.push(m * 10));
    });
    events.emit('a', 1);
    events.emit('a', 2);
    expect(seen).toEqual([1, 2, 20]);
  });

  it('a throwing listener does not stop the others; removeAll drops everything', async () => {
    const events = new Emitter<Events>();
    const errors: unknown[] = [];
    const original = globalThis.queueMicrotask;
    globalThis.queueMicrotask = (callback) =>
      original(() => {
        try {
          callback();
        } catch (error) {
          errors.push(error);
        }
      });
    try {
      const after = vi.fn();
      events.on('a', () => {
        throw new Error('boom');
      });
      events.on('a', after);
      events.emit('a', 1);
      expect(after).toHaveBeenCalledWith(1);
      await Promise.resolve();
      expect(errors).toHaveLength(1);
      events.removeAll();
      events.emit('a', 2);
      expect(after).toHaveBeenCalledTimes(1);
      events.on('a', after);
      events.emit('a', 3);
      expect(after).toHaveBeenCalledTimes(2);
    } finally {
      globalThis.queueMicrotask = original;
    }
  });
});
