/**
 * A server that speaks garbage must never make the client throw: every bad frame becomes an `error` event,
 * the link is dropped and re-established, and valid traffic after it is still delivered.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningServer, startNodeServer } from '../../server/node.ts';
import { type Client, createClient } from '../../src/client/index.ts';
import { jsonCodec } from '../../src/codec.ts';
import type { SwitchyardError } from '../../src/errors.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { until } from './harness.ts';

let server: RunningServer | undefined;
let client: Client | undefined;
afterEach(async () => {
  client?.dispose();
  await server?.close();
});

const GARBAGE = [
  '{nope',
  'null',
  '[]',
  '"text"',
  '{"type":"msg","topic":"t","seq":-1,"data":1}',
  '{"type":"msg","topic":"t","seq":1}',
  '{"type":"ack"}',
  '{"type":"launch-missiles"}',
  '{"__proto__":{"type":"msg"}}',
  JSON.stringify({ type: 'reset', topic: 't', seq: 'x', reason: 'r' }),
];

describe('hostile server', () => {
  it('turns every garbage frame into an error event and keeps reconnecting; valid frames still arrive', async () => {
    let connections = 0;
    server = await startNodeServer({
      onConnection: (connection) => {
        const n = connections++;
        connection.on('message', (event) => {
          const envelope = jsonCodec.decode(event.data);
          if (envelope.type === 'hello') {
            void connection.send(
              jsonCodec.encode({
                type: 'welcome',
                session: 's',
                heartbeatMs: 60_000,
                maxMessageBytes: 1 << 20,
                resumed: false,
              }) as string,
            );
          } else if (envelope.type === 'ping') {
            void connection.send(jsonCodec.encode({ type: 'pong', id: envelope.id }) as string);
          } else if (envelope.type === 'sub') {
            // One valid message, then this connection's garbage frame.
            void connection.send(
              jsonCodec.encode({ type: 'msg', topic: 't', seq: n + 1, data: n }) as string,
            );
            if (n < GARBAGE.length) void connection.send(GARBAGE[n] as string);
          }
        });
      },
    });
    client = createClient({
      url: server.url,
      transports: nodeTransports,
      rememberRung: false,
      backoff: { baseMs: 1, maxMs: 5 },
    });
    const errors: SwitchyardError[] = [];
    const data: unknown[] = [];
    client.on('error', (e) => errors.push(e));
    client.on('message', (m) => data.push(m.data));
    client.subscribe('t');
    await until(() => connections > GARBAGE.length && client?.state === 'connected', 'all garbage served');
    await until(() => data.length === GARBAGE.length + 1, 'valid messages');
    expect(data).toEqual(Array.from({ length: GARBAGE.length + 1 }, (_, i) => i));
    expect(errors).toHaveLength(GARBAGE.length);
    expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['ERR_INVALID_ENVELOPE']));
  });
});
