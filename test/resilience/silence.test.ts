/**
 * The network goes silent under an established connection: a TCP relay between client and server stops
 * forwarding in both directions and closes nothing (no FIN, no RST), like a NAT box that lost its state or
 * a cable pulled somewhere upstream. Only the application heartbeat can notice. The bound under test is
 * the heartbeat's contract: silence is detected within two intervals; the tolerance allowed on top is a
 * fraction of the interval (timer and event-loop slack), never a wall-clock constant.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Client, createClient } from '../../src/client/index.ts';
import { CloseCode } from '../../src/close-codes.ts';
import type { TransportKind } from '../../src/transport.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { startTestServer, type TestServer, until } from '../client/harness.ts';
import { TcpRelay } from '../client/relay.ts';

const INTERVAL = 400;
const TOLERANCE = INTERVAL / 2;
const ROUNDS = 3;

let server: TestServer | undefined;
let relay: TcpRelay | undefined;
let client: Client | undefined;
afterEach(async () => {
  client?.dispose();
  await relay?.close();
  await server?.close();
});

describe.each<TransportKind>(['websocket', 'sse'])('silent network on %s', (rung) => {
  it(`heartbeat notices within 2 intervals (+${TOLERANCE} ms) and reconnects`, {
    timeout: 30_000,
  }, async () => {
    // The server's own idle detection is slower (2.5 of its intervals): the client must be first.
    server = await startTestServer({ heartbeatMs: INTERVAL * 10 });
    relay = await TcpRelay.start(server.server.port);
    const c = createClient({
      url: relay.url,
      transports: nodeTransports,
      order: [rung],
      heartbeatMs: INTERVAL,
      rememberRung: false,
      backoff: { baseMs: 20, maxMs: 100 },
    });
    client = c;
    let lostAt = 0;
    c.on('state', (s) => {
      if (s === 'reconnecting' && lostAt === 0) lostAt = performance.now();
    });
    const detections: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await c.connect();
      await until(() => c.state === 'connected', 'connected');
      // Let the heartbeat run a little so the freeze lands at a random phase of its interval.
      await new Promise((resolve) => setTimeout(resolve, INTERVAL * (0.5 + round * 0.3)));
      lostAt = 0;
      const frozenAt = performance.now();
      relay.freeze();
      await until(() => lostAt > 0, 'silence detected');
      detections.push(lostAt - frozenAt);
      expect(c.closeInfo?.code).toBe(CloseCode.HeartbeatTimeout);
      // New connections through the relay work again: the client comes back by itself.
      await until(() => c.state === 'connected', 'reconnected after silence');
    }
    console.log(
      `[silence ${rung}] interval ${INTERVAL} ms, detection ms: ${detections.map((d) => Math.round(d)).join(', ')}`,
    );
    for (const d of detections) expect(d).toBeLessThanOrEqual(2 * INTERVAL + TOLERANCE);
  });
});
