/**
 * What each system under test expects on the wire, reduced to the minimal bytes a client must send: the
 * path, the setup exchange, the request frame (pre-encoded) and how to recognise the reply that completes a
 * round trip. Anything else that arrives is counted as unexpected and fails the measurement, so an error
 * reply can never pass for a fast ack.
 */
import { encode as msgpack } from '@msgpack/msgpack';
import { clientFrame, Opcode } from './ws-wire.ts';

/** Every WebSocket system the bench drives. `fan` systems have a publisher and subscribers per group. */
export type WsSystem =
  | 'ws'
  | 'ws-hono'
  | 'sio-echo'
  | 'sio-ack'
  | 'rung'
  | 'proto'
  | 'proto-bin'
  | 'proto-m'
  | 'ws-fan'
  | 'sio-fan'
  | 'proto-fan'
  | 'ws-idle'
  | 'sio-idle'
  | 'rung-idle'
  | 'proto-idle';

export type Role = 'echo' | 'pub' | 'sub' | 'idle';

/** A frame as the parser reports it. */
export interface Frame {
  readonly opcode: number;
  readonly head: Buffer;
  readonly payload: Buffer | null;
}

export interface WsDriver {
  readonly path: string;
  readonly protocol?: string;
  /** Frames to send once the socket is open, each followed by waiting for a frame that `until` accepts. */
  readonly setup: readonly { readonly send?: Buffer; readonly until: (frame: Frame) => boolean }[];
  /**
   * `count` request frames back to back (fresh ids where the protocol needs them): one buffer, or pieces that
   * are written in order in one corked write.
   */
  requests(count: number): Buffer | readonly Buffer[];
  /** Is this frame the reply (echo, ack, delivery) that the measurement counts? */
  isReply(frame: Frame): boolean;
  /** Frames that are neither replies nor errors (Socket.IO pings, our acks on a publisher). */
  isBackground(frame: Frame): boolean;
  /** The answer a background frame needs (Socket.IO's `3` to its `2` ping), if any. */
  answer?(frame: Frame): Buffer | undefined;
}

export interface DriverOptions {
  readonly system: WsSystem;
  readonly role: Role;
  readonly size: number;
  /** Fan-out group (topic / room) of this connection. */
  readonly group: number;
}

const startsWith = (buffer: Buffer, prefix: Buffer) =>
  buffer.length >= prefix.length && buffer.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;

const isData = (f: Frame) => f.opcode === Opcode.text || f.opcode === Opcode.binary;
const text = (s: string) => clientFrame(Opcode.text, Buffer.from(s));
const prefixed = (s: string) => {
  const p = Buffer.from(s);
  return (f: Frame) => isData(f) && startsWith(f.head, p);
};

/** A pre-encoded request that never changes: a window of them is a view into one buffer. */
function constant(frame: Buffer): (count: number) => Buffer {
  let block = Buffer.alloc(0);
  return (count) => {
    if (block.length < count * frame.length) {
      // Room for 128 small requests, but never more than the window of large ones (100 connections of 1 MiB).
      block = Buffer.allocUnsafe(
        frame.length * Math.max(count, Math.min(128, Math.ceil(65536 / frame.length))),
      );
      for (let i = 0; i * frame.length < block.length; i++) frame.copy(block, i * frame.length);
    }
    return block.subarray(0, count * frame.length);
  };
}

const ID_DIGITS = 10;

/**
 * Our `pub` needs a fresh id per message (the server dedups ids per session: a repeated id would be acked
 * without being applied, which is cheaper and would flatter us). The template is encoded once; each request
 * gets its own head with the id's digits (patchingIds).
 */
function withIds(topic: string, payload: string): (count: number) => readonly Buffer[] {
  return patchingIds(text(`:{"type":"pub","id":"${ID_MARKER}","topic":"${topic}","data":"${payload}"}`));
}

/**
 * The same for the MessagePack codec: a binary frame (a zero channel-length byte, then the envelope) whose `data`
 * is MessagePack `bin`, the bytes as they are.
 */
function withIdsBinary(topic: string, bytes: Buffer): (count: number) => readonly Buffer[] {
  const envelope = msgpack({ type: 'pub', id: ID_MARKER, topic, data: bytes });
  return patchingIds(clientFrame(Opcode.binary, Buffer.concat([Buffer.from([0]), envelope])));
}

const ID_MARKER = '0'.repeat(ID_DIGITS);

/**
 * `count` requests from `template`, each with the next id's digits written over the marker. Only each request's
 * head (up to the end of its id) is a fresh buffer; the rest, the payload, is the template's own bytes, shared by
 * every request and never written to (frames go out with an all-zero mask, so the bytes on the wire are the
 * template's). Copying the whole template per request made the load process, not the server, decide the large
 * rows: a fresh 256 KiB buffer per request is 64 page faults (~10 µs each on these VMs) in the client, and the
 * protocol rows ran at a quarter of what the same server did with a client that did not copy.
 */
function patchingIds(template: Buffer): (count: number) => readonly Buffer[] {
  const at = template.indexOf(ID_MARKER);
  const headLength = at + ID_DIGITS;
  const tail = template.subarray(headLength);
  let next = 0;
  return (count) => {
    const out: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const head = Buffer.allocUnsafe(headLength);
      template.copy(head, 0, 0, headLength);
      let id = ++next;
      for (let d = ID_DIGITS - 1; d >= 0; d--) {
        head[at + d] = 48 + (id % 10);
        id = Math.floor(id / 10);
      }
      out.push(head, tail);
    }
    return out;
  };
}

/** A binary frame on the default channel holding `value` as MessagePack. */
const binary = (value: unknown) =>
  clientFrame(Opcode.binary, Buffer.concat([Buffer.from([0]), msgpack(value)]));
/** Matches a binary frame whose envelope starts with `type: <type>` (the server writes `type` first). */
function binaryType(type: string): (frame: Frame) => boolean {
  const key = Buffer.from(msgpack('type'));
  const value = Buffer.from(msgpack(type));
  return (f) =>
    f.opcode === Opcode.binary &&
    f.head.length >= 2 + key.length + value.length &&
    f.head[0] === 0 &&
    f.head.subarray(2, 2 + key.length).equals(key) &&
    f.head.subarray(2 + key.length, 2 + key.length + value.length).equals(value);
}

const SIO_PATH = '/socket.io/?EIO=4&transport=websocket';
const HELLO = text(':{"type":"hello","v":1}');
const WELCOME = prefixed(':{"type":"welcome"');
const SIO_SETUP = [{ until: prefixed('0{') }, { send: text('40'), until: prefixed('40') }] as const;
const sioPing = Buffer.from('2');

function sioBackground(frame: Frame): boolean {
  return frame.opcode === Opcode.text && frame.payload?.equals(sioPing) === true;
}

export function wsDriver({ system, role, size, group }: DriverOptions): WsDriver {
  const payload = 'x'.repeat(size);
  const bytes = Buffer.from(payload);
  const none = () => false;
  const empty = () => Buffer.alloc(0);
  switch (system) {
    case 'ws':
    case 'ws-hono':
    case 'ws-idle':
      return {
        path: '/',
        setup: [],
        requests: constant(clientFrame(Opcode.binary, bytes)),
        isReply: isData,
        isBackground: none,
      };
    case 'rung':
    case 'rung-idle':
      return {
        path: '/rt/ws',
        protocol: 'switchyard.v1',
        setup: [],
        // Binary frame on the default channel: a zero channel-length byte, then the bytes.
        requests: constant(clientFrame(Opcode.binary, Buffer.concat([Buffer.from([0]), bytes]))),
        isReply: isData,
        isBackground: none,
      };
    case 'sio-echo':
    case 'sio-ack':
    case 'sio-idle':
      return {
        path: SIO_PATH,
        setup: SIO_SETUP,
        requests: constant(text(system === 'sio-ack' ? `421["a","${payload}"]` : `42["e","${payload}"]`)),
        isReply: prefixed(system === 'sio-ack' ? '431' : '42'),
        isBackground: sioBackground,
        answer: () => text('3'),
      };
    case 'proto':
    case 'proto-m':
    case 'proto-idle':
      return {
        path: '/rt/ws',
        protocol: 'switchyard.v1',
        setup: [{ send: HELLO, until: WELCOME }],
        requests: withIds('ack', payload),
        isReply: prefixed(':{"type":"ack"'),
        isBackground: none,
      };
    case 'proto-bin':
      return {
        path: '/rt/ws',
        protocol: 'switchyard.v1',
        // A binary hello picks the MessagePack codec for the connection's answers.
        setup: [{ send: binary({ type: 'hello', v: 1 }), until: binaryType('welcome') }],
        requests: withIdsBinary('ack', bytes),
        isReply: binaryType('ack'),
        isBackground: none,
      };
    case 'ws-fan':
      return {
        path: `/fan?role=${role}&g=${group}`,
        setup: [],
        requests: role === 'pub' ? constant(clientFrame(Opcode.text, bytes)) : empty,
        isReply: isData,
        isBackground: none,
      };
    case 'sio-fan':
      return {
        path: `${SIO_PATH}&role=${role}&g=${group}`,
        setup: SIO_SETUP,
        requests: role === 'pub' ? constant(text(`42["p","${payload}"]`)) : empty,
        isReply: prefixed('42["m"'),
        isBackground: sioBackground,
        answer: () => text('3'),
      };
    case 'proto-fan':
      return {
        path: '/rt/ws',
        protocol: 'switchyard.v1',
        setup:
          role === 'sub'
            ? [
                { send: HELLO, until: WELCOME },
                { send: text(`:{"type":"sub","topic":"g${group}"}`), until: prefixed(':{"type":"reset"') },
              ]
            : [{ send: HELLO, until: WELCOME }],
        requests: role === 'pub' ? withIds(`g${group}`, payload) : empty,
        isReply: prefixed(':{"type":"msg"'),
        // The publisher's acks: expected, not what the fan-out row counts.
        isBackground: role === 'pub' ? prefixed(':{"type":"ack"') : none,
      };
  }
}
