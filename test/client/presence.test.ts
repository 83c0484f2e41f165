/**
 * The client's presence API against a real one-process server: `presence()` lists members and rejects with
 * ERR_REJECTED (the server's code kept) where the app refuses `presence-read`, and with ERR_DISCONNECTED while
 * not connected; `subscribe` refuses an oversize `info` before anything is sent; `presence` events follow a
 * second client's subscription and its end.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Client, createClient, type PresenceEvent, RejectedError } from '../../src/client/index.ts';
import { MAX_PRESENCE_INFO_BYTES } from '../../src/presence.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { startTestServer, type TestServer, until } from './harness.ts';

let server: TestServer | undefined;
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.dispose();
  await server?.close();
});

function client(autoConnect = true): Client {
  const c = createClient({
    url: (server as TestServer).url,
    transports: nodeTransports,
    order: ['websocket'],
    rememberRung: false,
    autoConnect,
  });
  clients.push(c);
  return c;
}

describe('client presence', () => {
  it('lists members, follows joins and leaves, and keeps the refusal the app chose', async () => {
    server = await startTestServer({
      protocol: {
        authorize: (operation, topic) =>
          operation === 'presence-read' && topic === 'staff'
            ? { code: 'ERR_STAFF_ONLY', message: 'staff only' }
            : null,
      },
    });
    const a = client();
    const seen: PresenceEvent[] = [];
    a.on('presence', (event) => seen.push(event));
    a.subscribe('room', { presence: true, info: { name: 'a' } });
    await a.connect();
    await until(() => seen.length === 1, 'own join');
    const b = client();
    const subscription = b.subscribe('room', { info: { name: 'b' } });
    await b.connect();
    await until(() => seen.length === 2, 'b joins');
    expect((await a.presence('room')).map((m) => m.info?.name).sort()).toEqual(['a', 'b']);
    subscription.unsubscribe();
    await until(() => seen.length === 3, 'b leaves');
    expect(seen.map((e) => [e.action, e.client.info?.name])).toEqual([
      ['join', 'a'],
      ['join', 'b'],
      ['leave', 'b'],
    ]);

    const refused = await a.presence('staff').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RejectedError);
    expect(refused).toMatchObject({ code: 'ERR_REJECTED', serverCode: 'ERR_STAFF_ONLY' });
  });

  it('refuses an oversize info at once, and answers ERR_DISCONNECTED while not connected', async () => {
    server = await startTestServer();
    const c = client(false);
    expect(() => c.subscribe('room', { info: { blob: 'x'.repeat(MAX_PRESENCE_INFO_BYTES) } })).toThrow(
      expect.objectContaining({ code: 'ERR_PRESENCE_INFO_TOO_BIG' }),
    );
    await expect(c.presence('room')).rejects.toMatchObject({ code: 'ERR_DISCONNECTED' });
  });
});
