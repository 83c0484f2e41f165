/**
 * The registry of open connections learns of a close from the connection itself where it can (this package's
 * rungs: no closure per connection), and through a `close` listener from any other ServerConnection.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Emitter } from '../src/emitter.ts';
import type { CloseEvent, ServerConnection, ServerConnectionEvents } from '../src/transport.ts';
import { WEBSOCKET_PROTOCOL } from '../transports/websocket/client.ts';
import { PATHS } from './app.ts';
import { ConnectionRegistry } from './connections.ts';
import { type RunningServer, startNodeServer } from './node.ts';

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A ServerConnection written by someone else: only the public interface. */
function foreignConnection(): { connection: ServerConnection; close(event: CloseEvent): void } {
  const events = new Emitter<ServerConnectionEvents>();
  let state: ServerConnection['state'] = 'open';
  const connection: ServerConnection = {
    id: 'foreign',
    kind: 'websocket',
    capabilities: { datagrams: false, independentStreams: false, binary: true, upstream: 'native' },
    request: { url: 'ws://x/', origin: null, ip: '127.0.0.1', headers: {} },
    get state() {
      return state;
    },
    bufferedAmount: 0,
    send: () => Promise.resolve(),
    close: () => {},
    on: (type, listener) => events.on(type, listener),
  };
  return {
    connection,
    close(event) {
      state = 'closed';
      events.emit('close', event);
    },
  };
}

describe('ConnectionRegistry', () => {
  it('forgets a connection of another implementation when its close event comes', () => {
    const registry = new ConnectionRegistry();
    const seen: ServerConnection[] = [];
    const track = registry.track((c) => seen.push(c));
    const foreign = foreignConnection();
    track(foreign.connection);
    expect(seen).toEqual([foreign.connection]);
    expect(registry.size).toBe(1);
    foreign.close({ code: 1000, reason: '', wasClean: true });
    expect(registry.size).toBe(0);
  });

  it('forgets one of our WebSocket connections once it closed, whichever side closed it', async () => {
    const closes: number[] = [];
    let accepted: ServerConnection[] = [];
    server = await startNodeServer({
      onConnection: (connection) => {
        accepted.push(connection);
        connection.on('close', (event) => closes.push(event.code));
      },
    });
    const url = `${server.url.replace('http', 'ws')}${PATHS.websocket}`;
    const open = async () => {
      const client = new WebSocket(url, WEBSOCKET_PROTOCOL);
      await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
      return client;
    };
    const registry = server.app.registry;
    const [a, b] = [await open(), await open()];
    expect(registry.size).toBe(2);
    const bySide = new Promise<void>((resolve) => accepted[0]!.on('close', () => resolve()));
    a.close(1000);
    await bySide;
    expect(registry.size).toBe(1);
    const byServer = new Promise<void>((resolve) => accepted[1]!.on('close', () => resolve()));
    accepted[1]!.close(1000);
    await byServer;
    expect(registry.size).toBe(0);
    expect(closes).toEqual([1000, 1000]);
    b.terminate();
    accepted = [];
  });
});
