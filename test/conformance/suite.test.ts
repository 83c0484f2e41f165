/**
 * The conformance suite: the same tests, written once, run over every adapter in ./adapters.ts.
 * Each asserts what a user of the `Transport` / `ServerConnection` contract observes, never a rung's internals.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode } from '../../src/close-codes.ts';
import { isSwitchyardError } from '../../src/errors.ts';
import type { CloseEvent, ConnectionHandler, MessageEvent } from '../../src/transport.ts';
import { adapters } from './adapters.ts';
import { conformanceHarness, onChannel, once, until } from './harness.ts';
import { type Relay, startRelay } from './relay.ts';

const LIMIT = 64 * 1024;

/** Waits until `read()` has stopped changing for `quietMs`: the sender is blocked, not slow. */
async function settled(read: () => number, quietMs = 400): Promise<number> {
  let last = read();
  let since = Date.now();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const now = read();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return now;
  }
}

const echo: ConnectionHandler = (connection) => {
  connection.on('message', (m) => {
    connection.send(m.data, { channel: m.channel }).catch(() => {});
  });
};

const bytes = (n: number, seed = 0) => Uint8Array.from({ length: n }, (_, i) => (i + seed) & 255);

for (const adapter of adapters) {
  describe.skipIf(!adapter.available)(`conformance: ${adapter.name}`, () => {
    const { test, start, connect, startCapturing } = conformanceHarness(adapter);

    it('opens: state, open event and capabilities', async () => {
      const { server, connections, nextConnection } = await startCapturing();
      const transport = await connect(server);
      expect(transport.state).toBe('open');
      expect(typeof transport.capabilities.datagrams).toBe('boolean');
      expect(['native', 'post']).toContain(transport.capabilities.upstream);
      await nextConnection();
      expect(connections[0]!.state).toBe('open');
      expect(connections[0]!.kind).toBe(transport.kind);
    });

    it('echoes text exactly: empty, unicode, astral, line breaks, NUL', async () => {
      const server = await start(echo);
      const transport = await connect(server);
      const samples = [
        '',
        'hello',
        'unicode: héllo wörld ☃ 日本語',
        'astral: 😀🎉𝄞',
        'lines:\nLF\r\nCRLF\rCR\n\n',
        'nul:\u0000end',
        'data: looks like SSE\n\nevent: close\n',
        ' leading and trailing spaces ',
      ];
      const received: string[] = [];
      transport.on('message', (m) => received.push(m.data as string));
      for (const s of samples) await transport.send(s);
      await until(() => received.length === samples.length, 'echoes');
      expect(received).toEqual(samples);
    });

    it('echoes binary exactly: all 256 byte values, empty, and larger payloads', async () => {
      const server = await start(echo);
      const transport = await connect(server);
      const samples = [bytes(256), new Uint8Array(0), bytes(10_000, 7)];
      const received: Uint8Array[] = [];
      transport.on('message', (m) => {
        expect(typeof m.data).not.toBe('string');
        received.push(Uint8Array.from(m.data as Uint8Array));
      });
      for (const s of samples) await transport.send(s);
      await until(() => received.length === samples.length, 'binary echoes');
      expect(received).toEqual(samples);
    });

    test(
      'kept-bytes',
      "hands the server what it received to keep: later messages never rewrite a message's bytes",
      async () => {
        // The protocol keeps large `pub` data as the rung delivered it (a topic's history): that is only right if
        // no rung reuses a buffer it handed over. Sizes around the socket reads and frames that rungs split on.
        const kept: MessageEvent[] = [];
        const server = await start((connection) => {
          connection.on('message', (m) => kept.push(m));
        });
        const transport = await connect(server);
        const sent: (string | Uint8Array)[] = [];
        for (let i = 0; i < 12; i++) {
          const size = [48 * 1024, 20_000, 33 * 1024, 100][i % 4]!;
          sent.push(i % 3 === 2 ? `${i}`.padEnd(size, String.fromCharCode(97 + i)) : bytes(size, i * 17));
        }
        for (const payload of sent) await transport.send(payload);
        await until(() => kept.length === sent.length, 'every message at the server');
        for (let i = 0; i < sent.length; i++) {
          const { data, utf8 } = kept[i]!;
          expect(typeof data === 'string' ? data : Uint8Array.from(data)).toEqual(sent[i]);
          if (utf8) expect(new TextDecoder().decode(utf8)).toBe(sent[i]);
        }
      },
    );

    it('keeps channels apart: each message comes back tagged with its channel', async () => {
      const server = await start(echo);
      const transport = await connect(server);
      const received: MessageEvent[] = [];
      transport.on('message', (m) => received.push(m));
      await transport.send('a1', { channel: 'alpha' });
      await transport.send(bytes(3), { channel: 'beta' });
      await transport.send('d1');
      await transport.send('a2', { channel: 'alpha' });
      await until(() => received.length === 4, 'channel echoes');
      expect(onChannel(received, 'alpha')).toEqual(['a1', 'a2']);
      expect(onChannel(received, 'beta')).toEqual([bytes(3)]);
      expect(onChannel(received, '')).toEqual(['d1']);
      await expect(transport.send('x', { channel: 'no spaces allowed' })).rejects.toMatchObject({
        code: 'ERR_INVALID_CHANNEL',
      });
    });

    test('order', 'delivers 10,000 messages in order in both directions', async () => {
      const N = 10_000;
      const serverSeen: number[] = [];
      const server = await start((connection) => {
        connection.on('message', (m) => {
          serverSeen.push(Number(m.data));
          connection.send(m.data).catch(() => {});
        });
      });
      const transport = await connect(server);
      const clientSeen: number[] = [];
      transport.on('message', (m) => clientSeen.push(Number(m.data)));
      const sends: Promise<void>[] = [];
      for (let i = 0; i < N; i++) sends.push(transport.send(String(i)));
      await Promise.all(sends);
      await until(() => clientSeen.length === N, `${N} echoes`, 30_000);
      const expected = Array.from({ length: N }, (_, i) => i);
      expect(serverSeen).toEqual(expected);
      expect(clientSeen).toEqual(expected);
    });

    test('limit', 'passes a message of exactly maxMessageBytes and refuses one byte more', async () => {
      const server = await start(echo, { maxMessageBytes: LIMIT });
      const transport = await connect(server, { maxMessageBytes: LIMIT });
      const received: MessageEvent[] = [];
      transport.on('message', (m) => received.push(m));
      await transport.send(bytes(LIMIT));
      await transport.send('é'.repeat(LIMIT / 2)); // 2 bytes each in UTF-8: exactly at the limit
      await until(() => received.length === 2, 'limit-size echoes');
      expect((received[0]!.data as Uint8Array).byteLength).toBe(LIMIT);
      expect((received[1]!.data as string).length).toBe(LIMIT / 2);
      await expect(transport.send(bytes(LIMIT + 1))).rejects.toMatchObject({ code: 'ERR_MESSAGE_TOO_BIG' });
      await expect(transport.send(`${'é'.repeat(LIMIT / 2)}x`)).rejects.toMatchObject({
        code: 'ERR_MESSAGE_TOO_BIG',
      });
      expect(transport.state).toBe('open');
    });

    test('bypass', 'closes with 1009 MessageTooBig when a client bypasses its own limit', async () => {
      const { server, connections, nextConnection } = await startCapturing({ maxMessageBytes: LIMIT });
      const transport = await connect(server, { maxMessageBytes: LIMIT * 4 });
      await nextConnection();
      const serverClosed = once<CloseEvent>((l) => connections[0]!.on('close', l));
      const clientClosed = once<CloseEvent>((l) => transport.on('close', l));
      await transport.send(bytes(LIMIT + 1)).catch(() => {});
      expect((await clientClosed).code).toBe(CloseCode.MessageTooBig);
      expect((await serverClosed).code).toBe(CloseCode.MessageTooBig);
    });

    it('carries a client close code and reason to the server', async () => {
      const { server, connections, nextConnection } = await startCapturing();
      const transport = await connect(server);
      await nextConnection();
      const serverClosed = once<CloseEvent>((l) => connections[0]!.on('close', l));
      const clientClosed = once<CloseEvent>((l) => transport.on('close', l));
      transport.close(4321, 'client says bye ☃');
      expect(await serverClosed).toMatchObject({ code: 4321, reason: 'client says bye ☃' });
      expect(await clientClosed).toMatchObject({ code: 4321, wasClean: true });
      expect(transport.state).toBe('closed');
    });

    it('carries a server close code and reason to the client, once', async () => {
      const { server, connections, nextConnection } = await startCapturing();
      const transport = await connect(server);
      await nextConnection();
      const closes: CloseEvent[] = [];
      transport.on('close', (e) => closes.push(e));
      connections[0]!.close(4567, 'server says bye');
      await until(() => closes.length > 0, 'client close');
      expect(closes[0]).toEqual({ code: 4567, reason: 'server says bye', wasClean: true });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(closes).toHaveLength(1);
      const error = await transport.send('late').catch((e: unknown) => e);
      expect(isSwitchyardError(error, 'ERR_CLOSED')).toBe(true);
    });

    it('refuses close codes that may not be sent', async () => {
      const server = await start(echo);
      const transport = await connect(server);
      expect(() => transport.close(1005)).toThrowError(
        expect.objectContaining({ code: 'ERR_INVALID_CLOSE_CODE' }),
      );
      expect(() => transport.close(999)).toThrowError(
        expect.objectContaining({ code: 'ERR_INVALID_CLOSE_CODE' }),
      );
      expect(transport.state).toBe('open');
    });

    it('closes long reasons to 123 bytes on a character boundary', async () => {
      const { server, connections, nextConnection } = await startCapturing();
      const transport = await connect(server);
      await nextConnection();
      const clientClosed = once<CloseEvent>((l) => transport.on('close', l));
      connections[0]!.close(4000, '☃'.repeat(100));
      const event = await clientClosed;
      expect(new TextEncoder().encode(event.reason).byteLength).toBeLessThanOrEqual(123);
      expect(event.reason).toBe('☃'.repeat(41));
    });

    test('shutdown', 'drains queued data, then delivers 1001 on graceful shutdown', async () => {
      const { server, connections, nextConnection } = await startCapturing();
      const transport = await connect(server);
      await nextConnection();
      const received: string[] = [];
      transport.on('message', (m) => received.push(m.data as string));
      const clientClosed = once<CloseEvent>((l) => transport.on('close', l));
      for (let i = 0; i < 200; i++) connections[0]!.send(`m${i}`).catch(() => {});
      await server.close();
      const event = await clientClosed;
      expect(event.code).toBe(CloseCode.GoingAway);
      expect(received).toHaveLength(200);
      expect(received.at(-1)).toBe('m199');
    });

    describe.skipIf(!adapter.relayable)('backpressure', () => {
      let relay: Relay | undefined;
      afterEach(async () => {
        await relay?.close();
        relay = undefined;
      });

      test(
        'backpressure-down',
        'server send() waits while the client does not read, and resumes when it does',
        async () => {
          const { server, connections, nextConnection } = await startCapturing({ highWaterMark: 256 * 1024 });
          relay = await startRelay(server.port);
          const transport = await connect(server, {}, relay.port);
          await nextConnection();
          const connection = connections[0]!;
          let received = 0;
          transport.on('message', () => received++);
          relay.pauseDownstream();
          const N = 600;
          let resolved = 0;
          const payload = bytes(64 * 1024);
          const sending = (async () => {
            for (let i = 0; i < N; i++) {
              await connection.send(payload);
              resolved++;
            }
          })();
          const stuckAt = await settled(() => resolved);
          expect(stuckAt).toBeLessThan(N); // blocked: the promise did not resolve while the client was not reading
          expect(connection.bufferedAmount).toBeGreaterThan(0);
          relay.resumeDownstream();
          await sending;
          await until(() => received === N, `${N} messages after resume`, 30_000);
        },
      );

      test(
        'backpressure-up',
        'client send() waits while the server does not read, and resumes when it does',
        async () => {
          let received = 0;
          const server = await start(
            (connection) => {
              connection.on('message', () => received++);
            },
            { maxMessageBytes: 1024 * 1024 },
          );
          relay = await startRelay(server.port);
          const transport = await connect(
            server,
            { highWaterMark: 256 * 1024, maxMessageBytes: 1024 * 1024 },
            relay.port,
          );
          relay.pauseUpstream();
          const N = 600;
          let resolved = 0;
          const payload = bytes(64 * 1024);
          const sending = (async () => {
            for (let i = 0; i < N; i++) {
              await transport.send(payload);
              resolved++;
            }
          })();
          const stuckAt = await settled(() => resolved);
          expect(stuckAt).toBeLessThan(N);
          relay.resumeUpstream();
          await sending;
          await until(() => received === N, `${N} messages after resume`, 30_000);
        },
      );
    });
  });
}
