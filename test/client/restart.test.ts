/**
 * A server restart with an in-memory hub: graceful shutdown (1001) is retried, the client comes back on
 * the same port once it listens again, its old session is unknown (resumed: false), and a topic position
 * beyond the new hub's head is reported as `reset` (ahead-of-history), never silently; nor a position the new
 * hub's numbering has already passed (history-lost, from the topic's epoch).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Client, createClient } from '../../src/client/index.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { startTestServer, type TestServer, until } from './harness.ts';

let server: TestServer | undefined;
let client: Client | undefined;
afterEach(async () => {
  client?.dispose();
  await server?.close();
});

/** A client subscribed to `news` on the running server, recording resets and reliable messages. */
async function subscribedClient(srv: TestServer) {
  const c = createClient({
    url: srv.url,
    transports: nodeTransports,
    rememberRung: false,
    backoff: { baseMs: 20, maxMs: 100 },
  });
  client = c;
  const resets: { topic: string; seq: number; reason: string }[] = [];
  c.on('reset', (r) => resets.push(r));
  const got: { seq: number; data: unknown }[] = [];
  c.on('message', (m) => {
    if (m.reliable) got.push({ seq: m.seq, data: m.data });
  });
  const sub = c.subscribe('news');
  await c.connect();
  await until(() => sub.lastSeq !== undefined, 'subscribed');
  return { c, sub, resets, got };
}

describe('server restart', () => {
  it('reconnects after 1001, starts a new session, reports the lost history as reset', async () => {
    server = await startTestServer();
    const port = server.server.port;
    const { c, resets, got } = await subscribedClient(server);
    for (let i = 0; i < 3; i++) await server.hub.publish('news', i);
    await until(() => got.length === 3, 'before restart');
    const firstSession = c.session;

    await server.close(); // graceful: every client gets 1001
    await until(() => c.state === 'reconnecting', 'reconnecting');
    expect(c.closeInfo).toMatchObject({ code: 1001, retry: 'retry' });
    // Published while the server is down: buffered, sent once it is back.
    const queued = c.publish('news', 'while down');
    server = await startTestServer({ server: { port } });
    await queued;
    await until(() => c.state === 'connected' && resets.length === 1, 'back with a reset');
    expect(c.session).not.toBe(firstSession);
    expect(resets).toMatchObject([{ topic: 'news', seq: 0, reason: 'history-lost' }]);
    // The queued publish reached the new hub as its seq 1, and the client sees it after the reset.
    await until(() => got.length === 4, 'message after restart');
    expect(got.map((m) => m.seq)).toEqual([1, 2, 3, 1]);
  });

  it('a position the restarted hub has already passed is a reset, not a silent jump into another history', async () => {
    server = await startTestServer();
    const port = server.server.port;
    const { c, sub, resets, got } = await subscribedClient(server);
    const before = sub.epoch;
    for (let i = 0; i < 3; i++) await server.hub.publish('news', `old ${i}`);
    await until(() => got.length === 3, 'before restart');

    // The server restarts with an empty hub and publishes 10 messages before the client is back: the new
    // numbering is past the client's position 3.
    await server.close();
    await until(() => c.state === 'reconnecting', 'reconnecting');
    server = await startTestServer({ server: { port } });
    for (let i = 0; i < 10; i++) await server.hub.publish('news', `new ${i}`);
    await until(() => c.state === 'connected' && resets.length === 1, 'back with a reset');
    expect(resets).toMatchObject([{ topic: 'news', seq: 10, reason: 'history-lost' }]);
    expect(sub.epoch).not.toBe(before);
    // Nothing of the new history before the reset's position reached the app as if it followed 'old 2'.
    await server.hub.publish('news', 'new 10');
    await until(() => got.length === 4, 'the next message');
    expect(got.map((m) => m.data)).toEqual(['old 0', 'old 1', 'old 2', 'new 10']);
  });
});
