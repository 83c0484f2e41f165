/**
 * The server process is SIGKILLed and started again on the same port while messages stream both ways.
 * What a user must observe: the client reconnects by itself; every publish it made is applied exactly once
 * (re-sent after the crash with the same id, deduplicated by the app's durable idempotency key), and
 * every message the server produced arrives exactly once and in order (resumed by sequence from durable
 * history), with no `reset`. Counts and sequences are checked, not timings.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Client, createClient } from '../../src/client/index.ts';
import type { TransportKind } from '../../src/transport.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { until } from '../client/harness.ts';
import { type ServerChild, spawnServer } from './support/child.ts';

let child: ServerChild | undefined;
let client: Client | undefined;
let dir: string | undefined;
afterEach(async () => {
  client?.dispose();
  await child?.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

const UPSTREAM = 300;

describe.each<TransportKind>(['websocket', 'sse'])('SIGKILL of the server on %s', (rung) => {
  it('reconnects; nothing lost or doubled in either direction', { timeout: 40_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'sy-crash-'));
    const journal = join(dir, 'journal.jsonl');
    const env = { JOURNAL: journal, PRODUCE_MS: '5', HEARTBEAT_MS: '2000' };
    child = await spawnServer(env);
    const port = child.port;
    const c = createClient({
      url: child.url,
      transports: nodeTransports,
      order: [rung],
      rememberRung: false,
      backoff: { baseMs: 100, maxMs: 400 },
    });
    client = c;
    const down: number[] = [];
    const resets: unknown[] = [];
    c.on('message', (m) => {
      if (m.reliable) down.push(m.seq);
    });
    c.on('reset', (r) => resets.push(r));
    const sub = c.subscribe('down', { since: 0 });
    await c.connect();

    // Upstream: one publish every 5 ms, never waiting for acks, across the crash.
    const acks: Promise<void>[] = [];
    let sent = 0;
    const producer = setInterval(() => {
      if (sent >= UPSTREAM) return clearInterval(producer);
      sent++;
      acks.push(c.publish('up', { n: sent }));
    }, 5);

    await until(() => sent >= UPSTREAM / 3 && down.length >= 50, 'traffic before the crash');
    const before = { sent, down: down.length };
    await child.kill('SIGKILL');
    await until(() => c.state === 'reconnecting', 'client noticed the crash');
    child = await spawnServer({ ...env, PORT: String(port) });
    await until(() => sent >= UPSTREAM, 'all sent');
    await Promise.all(acks);
    await until(() => c.state === 'connected', 'reconnected');

    const lines = (await readFile(journal, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { t: string; n?: number; data?: { n: number } });
    const produced = lines.filter((l) => l.t === 'down').length;
    await until(() => (sub.lastSeq ?? 0) >= produced, 'caught up with what the server produced');

    // Upstream: applied exactly once each, in the order they were published.
    const applied = lines.filter((l) => l.t === 'up').map((l) => l.data?.n);
    expect(applied).toEqual(Array.from({ length: UPSTREAM }, (_, i) => i + 1));
    // Downstream: every produced message once, in order, no reset.
    const seen = down.slice(0, produced);
    expect(seen).toEqual(Array.from({ length: produced }, (_, i) => i + 1));
    expect(new Set(down).size).toBe(down.length);
    expect(resets).toEqual([]);
    expect(before.sent).toBeLessThan(UPSTREAM); // the crash really happened mid-stream
    console.log(
      `[crash ${rung}] crashed after ${before.sent} up / ${before.down} down; total ${UPSTREAM} up applied once, ${down.length} down in order`,
    );
  });
});
