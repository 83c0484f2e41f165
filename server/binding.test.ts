/**
 * What every connection carries as its request description: equal descriptions are one shared, frozen object
 * (idle memory), without the WebSocket handshake's nonce, and never shared when they hold credentials; and what a
 * WebSocket connection keeps of its own (its id, kind and capabilities come from its prototype).
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { ServerConnection } from '../src/transport.ts';
import { WEBSOCKET_PROTOCOL } from '../transports/websocket/client.ts';
import { PATHS } from './app.ts';
import { type RunningServer, startNodeServer } from './node.ts';

let server: RunningServer | undefined;
const clients: WebSocket[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.terminate();
  await server?.close();
  server = undefined;
});

async function connections(headers: Record<string, string>[]): Promise<ServerConnection[]> {
  const seen: ServerConnection[] = [];
  server = await startNodeServer({ onConnection: (connection) => void seen.push(connection) });
  const url = `${server.url.replace('http', 'ws')}${PATHS.websocket}`;
  for (const extra of headers) {
    const client = new WebSocket(url, WEBSOCKET_PROTOCOL, { headers: extra });
    clients.push(client);
    await new Promise((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
  }
  while (seen.length < headers.length) await new Promise((resolve) => setTimeout(resolve, 5));
  return seen;
}

describe('connection request descriptions', () => {
  it('are one frozen object for equal requests, without the handshake nonce', async () => {
    const [a, b] = await connections([{ 'x-app': 'same' }, { 'x-app': 'same' }]);
    expect(a?.request).toBe(b?.request);
    expect(Object.isFrozen(a?.request)).toBe(true);
    expect(Object.isFrozen(a?.request.headers)).toBe(true);
    expect(a?.request.headers['x-app']).toBe('same');
    expect(a?.request.headers.host).toBeTruthy();
    expect(a?.request.headers['sec-websocket-protocol']).toBe(WEBSOCKET_PROTOCOL);
    expect(a?.request.headers).not.toHaveProperty('sec-websocket-key');
  });

  it('differ where the requests differ, and hold credentials only in their own connection', async () => {
    const [a, b, c, d] = await connections([
      { 'x-app': 'one' },
      { 'x-app': 'two' },
      { cookie: 'sid=1' },
      { cookie: 'sid=1' },
    ]);
    expect(a?.request.headers['x-app']).toBe('one');
    expect(b?.request.headers['x-app']).toBe('two');
    expect(a?.request).not.toBe(b?.request);
    expect(c?.request.headers.cookie).toBe('sid=1');
    expect(c?.request).not.toBe(d?.request);
    expect(c?.request.headers).not.toBe(d?.request.headers);
    expect(Object.isFrozen(c?.request)).toBe(false);
  });

  it('name their rung from the prototype, not from fields of each connection', async () => {
    const [a] = await connections([{}]);
    expect(a?.kind).toBe('websocket');
    expect(a?.capabilities.binary).toBe(true);
    expect(Object.keys(a ?? {})).not.toContain('kind');
    expect(Object.keys(a ?? {})).not.toContain('capabilities');
  });

  it('have an id made on read: the same for one connection, unique across them', async () => {
    const [a, b] = await connections([{}, {}]);
    expect(a?.id).toMatch(/^ws-[0-9a-z]+$/);
    expect(a?.id).toBe(a?.id);
    expect(a?.id).not.toBe(b?.id);
    expect(Object.keys(a ?? {})).not.toContain('id');
  });
});

describe("the upgrade's Request (what admission and the app's middleware see)", () => {
  async function admitted(handshake: (port: number) => Promise<void>): Promise<[string, string][]> {
    let headers: [string, string][] | undefined;
    server = await startNodeServer({
      onConnection: () => {},
      admission: ({ request }) => {
        headers = [...request.headers];
        return null;
      },
    });
    await handshake(server.port);
    if (!headers) throw new Error('admission did not run');
    return headers;
  }

  it("carries every header of the handshake, the nonce included, from Node's header object", async () => {
    const headers = await admitted(async (port) => {
      await connectionsTo(port, [{ 'x-app': 'one', cookie: 'sid=1' }]);
    });
    const named = Object.fromEntries(headers);
    expect(named['x-app']).toBe('one');
    expect(named.cookie).toBe('sid=1');
    expect(named['sec-websocket-key']).toBeTruthy();
    expect(named['sec-websocket-protocol']).toBe(WEBSOCKET_PROTOCOL);
    expect(named.host).toBe(`127.0.0.1:${server?.port}`);
  });

  it('joins repeated headers as Node does and leaves empty values out', async () => {
    const headers = await admitted(async (port) => {
      const reply = await rawHandshake(port, [
        'X-Twice: a',
        'X-Twice: b',
        'Cookie: a=1',
        'Cookie: b=2',
        'X-Empty: ',
      ]);
      expect(reply).toMatch(/^HTTP\/1\.1 101 /);
    });
    const named = Object.fromEntries(headers);
    expect(named['x-twice']).toBe('a, b');
    expect(named.cookie).toBe('a=1; b=2');
    expect(named).not.toHaveProperty('x-empty');
    expect(named.upgrade).toBe('websocket');
  });
});

async function connectionsTo(port: number, headers: Record<string, string>[]): Promise<void> {
  for (const extra of headers) {
    const client = new WebSocket(`ws://127.0.0.1:${port}${PATHS.websocket}`, WEBSOCKET_PROTOCOL, {
      headers: extra,
    });
    clients.push(client);
    await new Promise((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
  }
}

/** A handshake written by hand (repeated and empty headers, which `ws`'s client cannot send); the status line. */
function rawHandshake(port: number, extra: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        [
          `GET ${PATHS.websocket} HTTP/1.1`,
          `Host: 127.0.0.1:${port}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          'Sec-WebSocket-Version: 13',
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
          ...extra,
          '',
          '',
        ].join('\r\n'),
      );
    });
    socket.once('data', (chunk) => {
      resolve(chunk.toString('latin1').split('\r\n')[0] ?? '');
      socket.destroy();
    });
    socket.once('error', reject);
  });
}
