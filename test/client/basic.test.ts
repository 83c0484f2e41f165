import { afterEach, describe, expect, it } from 'vitest';
import { type Client, createClient } from '../../src/client/index.ts';
import { msgpackCodec } from '../../src/codec.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { startTestServer, type TestServer, until } from './harness.ts';

let server: TestServer | undefined;
let client: Client | undefined;
afterEach(async () => {
  client?.dispose();
  await server?.close();
  client = undefined;
  server = undefined;
});

describe('client basics over a real server', () => {
  it('connects over websocket, subscribes, publishes and receives its own message with a seq', async () => {
    server = await startTestServer();
    client = createClient({ url: server.url, transports: nodeTransports, rememberRung: false });
    const seen: unknown[] = [];
    client.on('message', (m) => seen.push(m));
    client.subscribe('room');
    await client.connect();
    expect(client.state).toBe('connected');
    expect(client.rung).toBe('websocket');
    await client.publish('room', { text: 'hi' });
    await until(() => seen.length === 1, 'message');
    expect(seen).toEqual([{ topic: 'room', seq: 1, data: { text: 'hi' }, reliable: true }]);
    expect(server.received).toHaveLength(1);
  });
});

describe('binary codec', () => {
  it('speaks MessagePack end to end when given msgpackCodec (bytes travel as bytes)', async () => {
    server = await startTestServer();
    client = createClient({
      url: server.url,
      transports: nodeTransports,
      rememberRung: false,
      codec: msgpackCodec,
    });
    const seen: unknown[] = [];
    client.on('message', (m) => seen.push(m.data));
    const sub = client.subscribe('bin');
    await client.connect();
    await until(() => sub.lastSeq !== undefined, 'subscribed');
    await client.publish('bin', { bytes: new Uint8Array([1, 2, 255]) });
    await until(() => seen.length === 1, 'message');
    const bytes = (seen[0] as { bytes: unknown }).bytes;
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect([...(bytes as Uint8Array)]).toEqual([1, 2, 255]);
  });
});
