/**
 * The ladder with real sockets. Only the WebSocket rung exists in this checkout so far, so the rungs above
 * and below are stand-ins: the same WebSocket client pointed at a TCP relay that either holds connections
 * without answering (a blocked rung: a proxy that swallows the Upgrade, or dropped QUIC) or forwards them.
 * The client cannot tell a stand-in from the real rung: all it sees is `open` + hello/welcome + ping/pong.
 * The rungs race (src/client/race.ts); what must hold when two rungs both get through: one server session,
 * the loser closed, every subscription and publish applied once on the server, every message seen once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Client, createClient, memoryRungMemory, type RungFactory } from '../../src/client/index.ts';
import type { OfferedTransport } from '../../src/negotiate.ts';
import type { Transport } from '../../src/transport.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { attemptsOf, standIn, startTestServer, type TestServer, until } from './harness.ts';
import { TcpRelay } from './relay.ts';

let server: TestServer | undefined;
const relays: TcpRelay[] = [];
const clients: Client[] = [];
const extraServers: TestServer[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.dispose();
  for (const r of relays.splice(0)) await r.close();
  for (const s of extraServers.splice(0)) await s.close();
  await server?.close();
  server = undefined;
});

const websocket = nodeTransports.websocket as RungFactory;

async function relayTo(port: number, mode: 'forward' | 'blackhole'): Promise<TcpRelay> {
  const r = await TcpRelay.start(port, mode);
  relays.push(r);
  return r;
}

describe('ladder', () => {
  it('falls down past two blocked rungs with default timers, then remembers the working rung', async () => {
    // The top rung is offered by the server; the client points it (and the middle one) at black holes.
    const wtOffer: OfferedTransport = { kind: 'webtransport', url: 'https://127.0.0.1:1/wt' };
    server = await startTestServer({ server: { extraOffers: () => [wtOffer] } });
    const hole = await relayTo(server.server.port, 'blackhole');
    const blocked = standIn(() => `ws://127.0.0.1:${hole.port}/rt/ws`);
    const working = standIn(() => `${server?.url.replace('http', 'ws')}/rt/ws`);
    // webtransport and websocket blocked; the bottom rung (labelled sse here) works.
    const transports = { webtransport: blocked, websocket: blocked, sse: working };
    // The SSE offer is needed in negotiate: the app serves a placeholder SSE route until the SSE rung lands.
    const memory = memoryRungMemory(60_000);
    const started = Date.now();
    const c = createClient({ url: server.url, transports, rememberRung: { memory }, climb: false });
    clients.push(c);
    const attempts = attemptsOf(c);
    const got: unknown[] = [];
    c.on('message', (m) => got.push(m.data));
    const sub = c.subscribe('t');
    await c.connect();
    await until(() => sub.lastSeq !== undefined, 'subscribed');
    await c.publish('t', 'first');
    await until(() => got.length === 1, 'first message over the bottom rung');
    const elapsed = Date.now() - started;
    expect(c.rung).toBe('sse');
    // Raced: the third rung started after two head starts and won; the blocked ones were then abandoned.
    await until(() => attempts.length === 4, 'the blocked rungs abandoned');
    expect(attempts.filter((a) => a.kind !== 'negotiate').map((a) => [a.kind, a.ok, a.error])).toEqual([
      ['sse', true, undefined],
      ['webtransport', false, 'webtransport: another rung won the race'],
      ['websocket', false, 'websocket: another rung won the race'],
    ]);
    console.info(
      `[ladder] two blocked rungs (budgets 1000 + 1200 ms, head starts 250 ms) -> messages on the third after ${elapsed} ms`,
    );

    // A second client (same origin, same memory, e.g. the next page load) starts at the remembered rung.
    const c2 = createClient({ url: server.url, transports, rememberRung: { memory }, climb: false });
    clients.push(c2);
    const attempts2 = attemptsOf(c2);
    await c2.connect();
    expect(c2.rung).toBe('sse');
    expect(attempts2.filter((a) => a.kind !== 'negotiate').map((a) => a.kind)).toEqual(['sse']);
  });

  it('a rung that opens but never answers the hello counts as failed (app-level ping, not `open`)', async () => {
    server = await startTestServer({
      server: { extraOffers: () => [{ kind: 'webtransport', url: 'https://x/wt' }] },
    });
    // A WebSocket that opens fine and then never answers: a server speaking no switchyard protocol.
    const silent = await startTestServer({ server: { onConnection: () => undefined } });
    const opensButMute = standIn(() => `${silent.url.replace('http', 'ws')}/rt/ws`);
    const c = createClient({
      url: server.url,
      transports: { webtransport: opensButMute, websocket },
      rememberRung: false,
      climb: false,
      connectTimeoutMs: { webtransport: 300 },
      // No race here: the mute rung must fail on its own budget, however long its head start.
      headStartMs: 60_000,
    });
    clients.push(c);
    const attempts = attemptsOf(c);
    await c.connect();
    await silent.close();
    expect(c.rung).toBe('websocket');
    expect(attempts.filter((a) => a.kind === 'webtransport').map((a) => [a.ok, a.error])).toEqual([
      [false, 'webtransport: no working connection within 300 ms'],
    ]);
    expect(attempts.filter((a) => a.kind !== 'negotiate').map((a) => a.kind)).toEqual([
      'webtransport',
      'websocket',
    ]);
  });

  it('climbs back up in the background and switches without losing or doubling a message', async () => {
    const wtOffer: OfferedTransport = { kind: 'webtransport', url: 'https://127.0.0.1:1/wt' };
    server = await startTestServer({ server: { extraOffers: () => [wtOffer] } });
    const s = server;
    const path = await relayTo(s.server.port, 'blackhole');
    const transports = {
      webtransport: standIn(() => `ws://127.0.0.1:${path.port}/rt/ws`),
      websocket,
    };
    const c = createClient({
      url: s.url,
      transports,
      rememberRung: false,
      connectTimeoutMs: { webtransport: 200 },
      climb: { afterMs: 50, maxMs: 100, timeoutMs: 1000 },
    });
    clients.push(c);
    const rungs: (string | null)[] = [];
    c.on('rung', (r) => rungs.push(r));
    const seqs: number[] = [];
    c.on('message', (m) => {
      if (m.reliable) seqs.push(m.seq);
    });
    const sub = c.subscribe('down');
    await c.connect();
    await until(() => sub.lastSeq !== undefined, 'subscribed');
    expect(c.rung).toBe('websocket');

    // Traffic in both directions while the better rung becomes reachable and the client switches to it;
    // it goes on until 200 messages after the switch, so that messages are in flight at the switch.
    path.mode = 'forward';
    const ups: Promise<void>[] = [];
    let switchedAt = 0;
    let i = 0;
    while (i < 5000 && (switchedAt === 0 || i < switchedAt + 200)) {
      i++;
      await s.hub.publish('down', i);
      ups.push(c.publish('up', i));
      if (switchedAt === 0 && c.rung === 'webtransport') switchedAt = i;
      if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(switchedAt).toBeGreaterThan(0);
    await Promise.all(ups);
    await until(() => seqs.length >= i, 'all messages');
    expect(rungs).toEqual(['websocket', 'webtransport']);
    expect(seqs).toEqual(Array.from({ length: i }, (_, k) => k + 1));
    const up = s.received.filter((r) => r.topic === 'up').map((r) => r.data);
    expect(up).toEqual(Array.from({ length: i }, (_, k) => k + 1));
    // The old rung was closed: one live connection remains.
    await until(() => s.protocol.activeConnections === 1, 'old rung closed');
    console.info(
      `[climb] switched websocket -> better rung after message ${switchedAt} of ${i}; duplicates deduped by the server: ${s.protocol.stats.duplicates}`,
    );
  });
});

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
    // Nothing authorised twice (presence comes along with the subscription); the sub and the pub once each.
    expect(new Set(operations).size).toBe(operations.length);
    expect(operations.filter((o) => /^(sub|pub):/.test(o))).toEqual(['sub:room', 'pub:room']);
    expect(s.received.map((r) => r.data)).toEqual(['hello']);
    expect(s.protocol.stats).toMatchObject({ applied: 1, duplicates: 0 });
    // Both passed their handshake; the better one carries the session.
    expect(attempts.filter((a) => a.kind !== 'negotiate').map((a) => `${a.kind}:${a.ok}`)).toEqual([
      'webtransport:true',
      'websocket:true',
    ]);
  });

  it.each([
    ['never opens (QUIC dropped)', 'blackhole'],
    ['opens, then never answers its hello (dropped after the upgrade)', 'mute'],
  ] as const)('a best rung that %s costs its head start, not its budget', async (_, how) => {
    server = await startTestServer({
      server: { extraOffers: () => [{ kind: 'webtransport', url: 'https://x/wt' }] },
    });
    let blocked: string;
    if (how === 'blackhole') {
      const hole = await TcpRelay.start(server.server.port, 'blackhole');
      relays.push(hole);
      blocked = `ws://127.0.0.1:${hole.port}/rt/ws`;
    } else {
      // Accepts the WebSocket, then never says a word.
      const mute = await startTestServer({ server: { onConnection: () => undefined } });
      extraServers.push(mute);
      blocked = `${mute.url.replace('http', 'ws')}/rt/ws`;
    }
    const c = createClient({
      url: server.url,
      transports: { webtransport: standIn(() => blocked), websocket },
      rememberRung: false,
      climb: false,
      connectTimeoutMs: { webtransport: 60_000 },
    });
    clients.push(c);
    const attempts = attemptsOf(c);
    await c.connect();
    expect(c.rung).toBe('websocket');
    // One session, on the winner (a held hello went out once the mute one had waited its head start).
    expect(server.protocol.sessions.size).toBe(1);
    await until(() => attempts.some((a) => a.kind === 'webtransport'), 'the blocked rung abandoned');
    expect(attempts.filter((a) => a.kind !== 'negotiate').map((a) => [a.kind, a.ok, a.error])).toEqual([
      ['websocket', true, undefined],
      ['webtransport', false, 'webtransport: another rung won the race'],
    ]);
  });
});
