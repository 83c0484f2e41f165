/**
 * Which channel each envelope takes, seen from a fake ServerConnection that reports independent streams and
 * datagrams like WebTransport over HTTP/3 (a unit test of the protocol alone; the real rung is proven by the
 * conformance suite and e2e/topic-streams.spec.ts): topic traffic on the topic's lane, connection traffic on
 * the default channel, lanes off where streams are not independent, and a stalled lane not holding up another.
 */
import { describe, expect, it } from 'vitest';
import { Emitter } from '../../src/emitter.ts';
import type { Envelope } from '../../src/envelope.ts';
import type {
  Payload,
  SendOptions,
  ServerConnection,
  ServerConnectionEvents,
  TransportCapabilities,
} from '../../src/transport.ts';
import { MemoryHub } from '../hub/memory.ts';
import { createProtocol } from './index.ts';

interface Sent {
  readonly envelope: Envelope;
  readonly channel: string;
  readonly reliable: boolean;
}

class FakeConnection implements ServerConnection {
  readonly id = 'fake';
  readonly kind = 'webtransport' as const;
  readonly request = { url: 'https://x/rt/wt', origin: null, ip: '127.0.0.1', headers: {} };
  readonly state = 'open' as const;
  readonly bufferedAmount = 0;
  readonly sent: Sent[] = [];
  readonly events = new Emitter<ServerConnectionEvents>();
  /** Channels whose sends never complete (a stream held up by loss or flow control). */
  readonly stalled = new Set<string>();
  readonly capabilities: TransportCapabilities;

  constructor(independent: boolean) {
    this.capabilities = {
      datagrams: independent,
      independentStreams: independent,
      binary: true,
      upstream: 'native',
      maxDatagramBytes: 1000,
    };
  }

  send(data: Payload, options?: SendOptions): Promise<void> {
    const channel = options?.channel ?? '';
    this.sent.push({
      envelope: JSON.parse(data as string) as Envelope,
      channel,
      reliable: options?.reliable !== false,
    });
    return this.stalled.has(channel) ? new Promise(() => {}) : Promise.resolve();
  }

  close(): void {}

  on<K extends keyof ServerConnectionEvents>(
    type: K,
    listener: (event: ServerConnectionEvents[K]) => void,
  ): () => void {
    return this.events.on(type, listener);
  }

  receive(envelope: Envelope, channel = ''): void {
    this.events.emit('message', { data: JSON.stringify(envelope), channel, unreliable: false });
  }

  async next(predicate: (s: Sent) => boolean): Promise<Sent> {
    for (let i = 0; i < 200; i++) {
      const found = this.sent.find(predicate);
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    throw new Error(`never sent; sent: ${JSON.stringify(this.sent)}`);
  }
}

async function connected(independent: boolean, lanes?: number) {
  const hub = new MemoryHub();
  const protocol = createProtocol({ hub, heartbeatMs: 60_000 });
  const connection = new FakeConnection(independent);
  protocol.onConnection(connection);
  connection.receive({ type: 'hello', v: 1, ...(lanes === undefined ? {} : { lanes }) });
  await connection.next((s) => s.envelope.type === 'welcome');
  return { hub, protocol, connection };
}

const of = (type: Envelope['type'], topic?: string) => (s: Sent) =>
  s.envelope.type === type && (topic === undefined || (s.envelope as { topic?: string }).topic === topic);

describe('protocol lanes', () => {
  it('topic traffic on its lane, connection traffic on the default channel', async () => {
    const { hub, protocol, connection } = await connected(true, 2);
    expect((await connection.next(of('welcome'))).channel).toBe('');
    for (const topic of ['a', 'b', 'c']) connection.receive({ type: 'sub', topic }, 'up');
    const resets = await Promise.all(['a', 'b', 'c'].map((t) => connection.next(of('reset', t))));
    // Two lanes: a and b get one each in order of first use; c shares one of them.
    expect(resets.map((s) => s.channel).slice(0, 2)).toEqual(['t0', 't1']);
    expect(['t0', 't1']).toContain(resets[2]?.channel);
    connection.receive({ type: 'pub', id: 'p1', topic: 'b', data: 1 }, 'up');
    expect((await connection.next(of('msg', 'b'))).channel).toBe('t1');
    expect((await connection.next(of('ack'))).channel).toBe('t1');
    connection.receive({ type: 'ping', id: 4 });
    expect((await connection.next(of('pong'))).channel).toBe('');
    // Unreliable: a datagram when it fits, the topic's lane when it does not.
    await hub.publishVolatile('a', 'small');
    expect(await connection.next(of('vmsg', 'a'))).toMatchObject({ channel: '', reliable: false });
    await hub.publishVolatile('b', 'x'.repeat(2000));
    expect(await connection.next((s) => of('vmsg', 'b')(s))).toMatchObject({ channel: 't1', reliable: true });
    protocol.close();
  });

  it('no lanes when the client asks for none, or where streams are not independent', async () => {
    for (const [independent, lanes] of [
      [true, 0],
      [false, undefined],
    ] as const) {
      const { hub, protocol, connection } = await connected(independent, lanes);
      connection.receive({ type: 'sub', topic: 'a' });
      await connection.next(of('reset', 'a'));
      await hub.publish('a', 1);
      await connection.next(of('msg', 'a'));
      expect(new Set(connection.sent.filter((s) => s.reliable).map((s) => s.channel))).toEqual(new Set(['']));
      protocol.close();
    }
  });

  it('a stalled lane does not hold up another lane', async () => {
    const { hub, protocol, connection } = await connected(true);
    connection.receive({ type: 'sub', topic: 'bulk' });
    connection.receive({ type: 'sub', topic: 'chat' });
    const bulkLane = (await connection.next(of('reset', 'bulk'))).channel;
    await connection.next(of('reset', 'chat'));
    connection.stalled.add(bulkLane);
    for (let i = 0; i < 10; i++) await hub.publish('bulk', i);
    for (let i = 0; i < 10; i++) await hub.publish('chat', i);
    await connection.next((s) => of('msg', 'chat')(s) && (s.envelope as { seq: number }).seq === 10);
    // Only the first bulk message reached its stream (whose send never completes); the rest wait in its queue.
    expect(connection.sent.filter(of('msg', 'bulk'))).toHaveLength(1);
    protocol.close();
  });
});
