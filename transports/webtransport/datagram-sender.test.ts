import { describe, expect, it } from 'vitest';
import { DatagramSender } from './datagram-sender.ts';

/** A datagram writer like a runtime's: a small queue in front of a sink that takes one at a time when told. */
function runtimeWriter(highWaterMark: number) {
  const taken: number[] = [];
  const pending: (() => void)[] = [];
  let auto = true;
  const stream = new WritableStream<Uint8Array>(
    {
      write(chunk) {
        taken.push(chunk[0] as number);
        if (auto) return;
        return new Promise<void>((resolve) => pending.push(resolve));
      },
    },
    new CountQueuingStrategy({ highWaterMark }),
  );
  return {
    writer: stream.getWriter(),
    taken,
    hold: () => {
      auto = false;
    },
    release: () => {
      auto = true;
      for (const resolve of pending.splice(0)) resolve();
    },
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const bytes = (n: number) => Uint8Array.of(n);

describe('DatagramSender', () => {
  it('a burst the runtime can take leaves whole and in order', async () => {
    const w = runtimeWriter(5);
    const sender = new DatagramSender(w.writer, { maxAgeMs: 250, maxQueued: 256 });
    for (let i = 0; i < 200; i++) sender.send(bytes(i));
    for (let i = 0; i < 20 && w.taken.length < 200; i++) await tick();
    expect(w.taken).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(sender.expired).toBe(0);
  });

  it('drops what went stale while the runtime could not take it, sends what is fresh', async () => {
    let now = 0;
    const w = runtimeWriter(1);
    const sender = new DatagramSender(w.writer, { maxAgeMs: 250, maxQueued: 256, now: () => now });
    w.hold();
    sender.send(bytes(1)); // taken by the sink, which does not finish: the runtime has no room
    await tick();
    for (let i = 2; i <= 6; i++) sender.send(bytes(i)); // wait here
    await tick();
    now = 300; // everything queued is now older than 250 ms
    sender.send(bytes(7));
    w.release();
    for (let i = 0; i < 20 && sender.queued > 0; i++) await tick();
    await tick();
    // 2-6 waited here and went stale; 7 is fresh.
    expect(w.taken).toEqual([1, 7]);
    expect(sender.expired).toBe(5);
  });

  it('keeps at most maxQueued waiting, dropping the oldest', async () => {
    const w = runtimeWriter(1);
    const sender = new DatagramSender(w.writer, { maxAgeMs: 10_000, maxQueued: 3 });
    w.hold();
    sender.send(bytes(1));
    await tick();
    sender.send(bytes(2));
    for (let i = 3; i <= 10; i++) sender.send(bytes(i));
    await tick();
    w.release();
    for (let i = 0; i < 20 && sender.queued > 0; i++) await tick();
    await tick();
    expect(w.taken).toEqual([1, 8, 9, 10]);
    expect(sender.expired).toBe(6);
  });

  it('stops quietly when the session is gone', async () => {
    const stream = new WritableStream<Uint8Array>();
    const writer = stream.getWriter();
    await writer.abort(new Error('session closed'));
    const sender = new DatagramSender(writer, { maxAgeMs: 250, maxQueued: 8 });
    sender.send(bytes(1));
    await tick();
    sender.send(bytes(2));
    expect(sender.queued).toBe(0);
  });
});
