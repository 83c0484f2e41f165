/**
 * For tests that check the protocol on the wire: a raw `ws` client (no switchyard client logic) speaking JSON
 * text frames or MessagePack binary frames on the default channel, past hello. Shared by the tests of large
 * JSON messages on one node and across nodes on Redis.
 */
import { decode, encode } from '@msgpack/msgpack';
import WebSocket from 'ws';
import { EnvelopeInbox } from './envelope-inbox.ts';

export type Received = Record<string, unknown> & { type: string };

export interface RawProtocolClient {
  readonly ws: WebSocket;
  /** An envelope in the client's codec; a string goes out as it is, as JSON text (to send broken JSON). */
  send(envelope: object | string): void;
  /** The next envelope of `type` after the ones already returned (others are skipped). */
  next(type: string): Promise<Received>;
  /** The close code the server sent. */
  readonly closed: Promise<number>;
}

/** Connects to `<serverUrl>/rt/ws`, says hello and waits for welcome; `track` gets the socket for cleanup. */
export async function rawProtocolClient(
  serverUrl: string,
  codec: 'json' | 'msgpack',
  track: (ws: WebSocket) => void,
): Promise<RawProtocolClient> {
  const ws = new WebSocket(`${serverUrl.replace('http', 'ws')}/rt/ws`);
  track(ws);
  const inbox = new EnvelopeInbox<Received>();
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    inbox.push(
      (isBinary
        ? decode(data.subarray(1 + (data[0] as number)))
        : JSON.parse(data.toString('utf8').slice(data.indexOf(0x3a) + 1))) as Received,
    );
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise((resolve) => ws.on('open', resolve));
  const client: RawProtocolClient = {
    ws,
    send(envelope) {
      if (typeof envelope === 'string') ws.send(`:${envelope}`);
      else if (codec === 'json') ws.send(`:${JSON.stringify(envelope)}`);
      else ws.send(Buffer.concat([Buffer.from([0]), encode(envelope)]));
    },
    next: (type) => inbox.next(type),
    closed,
  };
  client.send({ type: 'hello', v: 1 });
  await client.next('welcome');
  return client;
}
