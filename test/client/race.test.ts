/**
 * The race with real sockets and the real server: the rungs are WebSocket stand-ins (as in ladder.test.ts),
 * one of them slowed down or blocked. What must hold when two rungs both get through: one server session,
 * the loser closed, every subscription and publish applied once on the server, every message seen once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Client, createClient, type RungFactory } from '../../src/client/index.ts';
import type { Transport } from '../../src/transport.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { attemptsOf, standIn, startTestServer, type TestServer, until } from './harness.ts';
import { TcpRelay } from './relay.ts';

let server: TestServer | undefined;
const relays: TcpRelay[] = [];
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.dispose();
  for (const r of relays.splice(0)) await r.close();
  await server?.close();
  server = undefined;
});

const websocket = nodeTransports.websocket as RungFactory;

/**
 * Holds the pongs `factory`'s transports receive until `release()`: two rungs can then be made to pass their
 * handshakes in the same tick, the case a race must survive without doubling anything.
 */
function holdingPongs(factory: RungFactory) {
  const held: (() => void)[] = [];
  let releasedAll = false;
  const wrap: RungFactory = async (options) => {
    const transport = await factory(options);
    return new Proxy(transport, {
      get(target, prop) {
        if (prop === 'on') {
          return (type: string, listener: (event: { data: unknown }) => void) =>
            (target.on as (t: string, l: (e: { data: unknown }) => void) => () => void)(type, (event) => {
              const pong = type === 'message' && String(event.data).includes('"pong"');
              if (pong && !releasedAll) held.push(() => listener(event));
              else listener(event);
            });
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as Transport;
  };
  return {
    wrap,
    held: () => held.length,
    release() {
      releasedAll = true;
      for (const deliver of held.splice(0)) deliver();
    },
  };
}

describe('race', () => {
  it('two rungs that both pass: one server session, the loser closed, nothing applied or seen twice', async () => {
    const operations: string[] = [];
    server = await startTestServer({
      server: { extraOffers: () => [{ kind: 'webtransport', url: 'https://x/wt' }] },
      protocol: {
        authorize: (operation, topic) => {
          operations.push(`${operation}:${topic}`);
          return null;
        },
      },
    });
    const s = server;
    const pongs = holdingPongs(standIn(() => `${s.url.replace('http', 'ws')}/rt/ws`));
    const ws = holdingPongs(websocket);
    const c = createClient({
      url: s.url,
      transports: { webtransport: pongs.wrap, websocket: ws.wrap },
      rememberRung: false,
      climb: false,
      headStartMs: 50,
    });
    clients.push(c);
    const attempts = attemptsOf(c);
    const seqs: number[] = [];
    c.on('message', (m) => {
      if (m.reliable) seqs.push(m.seq);
    });
    const sub = c.subscribe('room');
    // Published while the race runs: held in the outbox until a winner is known, then sent on it alone.
    const published = c.publish('room', 'hello');
    // Both rungs have said hello and answered ping; only their pongs are held back.
    await until(() => pongs.held() + ws.held() === 2, 'both rungs through hello and ping');
    expect(s.protocol.sessions.size).toBe(1);
    expect(operations).toEqual([]);
    pongs.release();
    ws.release();
    await published;
    await until(() => sub.lastSeq === 1, 'the publish came back');
    for (let i = 0; i < 5; i++) s.hub.publish('room', i);
    await until(() => seqs.length === 6, 'six messages');
    await until(() => s.protocol.activeConnections === 1, 'the loser closed');

    expect(c.rung).toBe('webtransport');
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6]);
    expect(s.protocol.sessions.size).toBe(1);
    expect(operations).toEqual(['sub:room', 'pub:room']);
    expect(s.received.map((r) => r.data)).toEqual(['hello']);
    expect(s.protocol.stats).toMatchObject({ applied: 1, duplicates: 0 });
    // Both passed their handshake; the better one carries the session.
    expect(attempts.filter((a) => a.kind !== 'negotiate').map((a) => `${a.kind}:${a.ok}`)).toEqual([
      'webtransport:true',
      'websocket:true',
    ]);
  });

  it('a rung that opens and then never answers (dropped after the upgrade) does not hold the next one back', async () => {
    server = await startTestServer({
      server: { extraOffers: () => [{ kind: 'webtransport', url: 'https://x/wt' }] },
    });
    // Accepts the WebSocket, then never says a word: its hello is never answered.
    const mute = await startTestServer({ server: { onConnection: () => undefined } });
    const c = createClient({
      url: server.url,
      transports: { webtransport: standIn(() => `${mute.url.replace('http', 'ws')}/rt/ws`), websocket },
      rememberRung: false,
      climb: false,
      connectTimeoutMs: { webtransport: 60_000 },
    });
    clients.push(c);
    const attempts = attemptsOf(c);
    await c.connect();
    await mute.close();
    expect(c.rung).toBe('websocket');
    // The held hello went out once the mute one had waited its head start: one session, on the winner.
    expect(server.protocol.sessions.size).toBe(1);
    await until(() => attempts.some((a) => a.kind === 'webtransport'), 'the mute rung abandoned');
    expect(attempts.find((a) => a.kind === 'webtransport')?.error).toBe(
      'webtransport: another rung won the race',
    );
  });

  it('a blocked best rung costs its head start, not its budget, and is closed once another wins', async () => {
    server = await startTestServer({
      server: { extraOffers: () => [{ kind: 'webtransport', url: 'https://x/wt' }] },
    });
    const hole = await TcpRelay.start(server.server.port, 'blackhole');
    relays.push(hole);
    const c = createClient({
      url: server.url,
      transports: { webtransport: standIn(() => `ws://127.0.0.1:${hole.port}/rt/ws`), websocket },
      rememberRung: false,
      climb: false,
      connectTimeoutMs: { webtransport: 60_000 },
    });
    clients.push(c);
    const attempts = attemptsOf(c);
    await c.connect();
    expect(c.rung).toBe('websocket');
    await until(() => attempts.some((a) => a.kind === 'webtransport'), 'the blocked rung abandoned');
    expect(attempts.filter((a) => a.kind !== 'negotiate').map((a) => [a.kind, a.ok, a.error])).toEqual([
      ['websocket', true, undefined],
      ['webtransport', false, 'webtransport: another rung won the race'],
    ]);
  });
});
