/**
 * Binds a `ws` WebSocket to the runtime-independent WebSocketServerConnection, and finds dead peers with
 * protocol-level pings (Node can see pongs; browsers cannot, which is why the client also runs application
 * heartbeats).
 *
 * Per idle connection this keeps one small object (`NodeServerSocket`) and no closures: the `ws` listeners are
 * shared functions that find their socket through a symbol on the `ws` object, and the pings of every
 * connection of a server (or with the same interval) run from one sweep timer.
 */
import type { WebSocket } from 'ws';
import { CloseCode } from '../../src/close-codes.ts';
import { LAZY_TEXT_MIN_BYTES } from '../../src/lazy-text-event.ts';
import type { ConnectionRequest, ServerConnection, ServerTransportLimits } from '../../src/transport.ts';
import { DEFAULT_CHANNEL } from '../../src/transport.ts';
import type { Utf8Text } from '../../src/utf8-text.ts';
import { type RawServerSocket, WebSocketServerConnection } from './server.ts';
import { type Corkable, netSocketOf, shareEmptyExtensions } from './ws-internals.ts';

export interface NodeWebSocketOptions {
  readonly limits: ServerTransportLimits;
  /** Interval of protocol pings; a peer that misses one full interval is terminated. 0 disables. */
  readonly pingIntervalMs: number;
  /** The server's sockets: pinged at the group's interval instead of `pingIntervalMs`, and found at shutdown. */
  readonly group?: NodeSocketGroup;
}

/** Where the shared `ws` listeners find the binding of their socket. */
const OWNER = Symbol('switchyard.nodeServerSocket');
type OwnedWebSocket = WebSocket & { [OWNER]?: NodeServerSocket };

/** 0x3a, the ":" between the channel and the text of a text frame (src/frame.ts). */
const COLON = 58;

// --- Corking -------------------------------------------------------------------------------------------------
//
// `ws` writes every frame at once (header and payload in one `writev`), so 100 replies produced while handling one
// TCP chunk cost 100 syscalls: that was 40-84 % of the server's CPU (docs/benchmarks.md). The first send of a tick
// corks the net.Socket and a `process.nextTick` uncorks it, so the burst leaves in one `writev`. Latency does not
// move: the uncork runs before the event loop waits for I/O again. `_socket` is not public `ws` API, so it is
// feature-tested: without it (another `ws` version) every frame is simply written as it is sent.

function uncork(socket: Corkable): void {
  socket.uncork();
}

// --- Fan-out cache -------------------------------------------------------------------------------------------
//
// A fan-out hands the same payload string to N connections in a row. Sending it as a string makes every
// connection frame the channel (a new string) and UTF-8-encode the message again. So the framed UTF-8 bytes of
// the last (channel, text) pair are kept, and from the second send of the same pair on, the same Buffer goes to
// every socket (`ws` sends a Buffer with `binary: false` as a text frame without touching it). Strings are
// immutable and compared by value, so a hit is always the right frame; the first send of a pair stays a plain
// string send (an echo never pays for the Buffer). The cache holds one entry and is emptied on the next tick, so
// a big message is not kept alive past the burst that sends it.

let lastChannel = '';
let lastText: string | undefined;
let lastFrame: Buffer | undefined;
let clearScheduled = false;

function clearFrameCache(): void {
  clearScheduled = false;
  lastText = undefined;
  lastFrame = undefined;
}

/** The frame to send for (channel, text): a Buffer when it is worth reusing, else the framed string. */
function textFrame(channel: string, text: string): Buffer | string {
  if (text === lastText && channel === lastChannel) {
    // biome-ignore lint/suspicious/noAssignInExpressions: build once, on the second send of the same pair
    return (lastFrame ??= encodeTextFrameBuffer(channel, text));
  }
  lastChannel = channel;
  lastText = text;
  lastFrame = undefined;
  if (!clearScheduled) {
    clearScheduled = true;
    process.nextTick(clearFrameCache);
  }
  return channel === DEFAULT_CHANNEL ? `:${text}` : `${channel}:${text}`;
}

/** `<channel>:<text>` as UTF-8 in one Buffer, written in one pass (no intermediate string). */
export function encodeTextFrameBuffer(channel: string, text: string): Buffer {
  const prefix = channel === DEFAULT_CHANNEL ? 0 : channel.length;
  const out = Buffer.allocUnsafe(prefix + 1 + Buffer.byteLength(text, 'utf8'));
  // Channel names are ASCII (CHANNEL_PATTERN).
  if (prefix) out.write(channel, 0, 'latin1');
  out[prefix] = COLON;
  out.write(text, prefix + 1, 'utf8');
  return out;
}

/**
 * `<u8 channel length><channel><bytes>` in one Buffer: no zero fill (every byte is written) and one copy of the
 * payload (src/frame.ts's `encodeBinaryFrame` must run in browsers and allocates a zeroed Uint8Array above 4 KiB).
 */
export function encodeBinaryFrameBuffer(channel: string, bytes: Uint8Array): Buffer {
  const prefix = channel === DEFAULT_CHANNEL ? 0 : channel.length;
  const out = Buffer.allocUnsafe(1 + prefix + bytes.byteLength);
  out[0] = prefix;
  if (prefix) out.write(channel, 1, 'latin1');
  out.set(bytes, 1 + prefix);
  return out;
}

const TEXT = { binary: false } as const;
const BINARY = { binary: true } as const;

// --- Large messages ------------------------------------------------------------------------------------------
//
// Framing the channel in front of a large payload costs a copy of every byte (and, for a Buffer above Node's
// pool size, a fresh allocation whose backing store the GC must track): at 64 KiB that was a third of the rung's
// CPU against raw `ws`. From LARGE_MESSAGE_BYTES on, the prefix goes out as the first fragment of the WebSocket
// message and the payload, untouched, as its last (RFC 6455 5.4; every client reassembles fragments, and `ws`
// writes both in the same corked `writev`). The payload is then not copied, as with `ws` or `socket.write`: an
// app that sends a Uint8Array must not change it afterwards (docs/transports/websocket.md).

/** From this size on, a payload is sent as a second fragment instead of being copied behind its prefix. */
export const LARGE_MESSAGE_BYTES = 16 * 1024;
const TEXT_FIRST = { binary: false, fin: false } as const;
const BINARY_FIRST = { binary: true, fin: false } as const;
const TEXT_LAST = { binary: false, fin: true } as const;
const BINARY_LAST = { binary: true, fin: true } as const;
const DEFAULT_BINARY_PREFIX = Buffer.from([0]);

/** The first fragment of a large text message: its channel prefix. */
function textPrefix(channel: string): string {
  return channel === DEFAULT_CHANNEL ? ':' : `${channel}:`;
}

function binaryPrefix(channel: string): Buffer {
  if (channel === DEFAULT_CHANNEL) return DEFAULT_BINARY_PREFIX;
  const out = Buffer.allocUnsafe(1 + channel.length);
  out[0] = channel.length;
  out.write(channel, 1, 'latin1');
  return out;
}

/** The UTF-8 bytes of the last large text sent: a fan-out encodes a large message once, not per socket. */
let lastLargeText: string | undefined;
let lastLargeBytes: Buffer | undefined;

function clearLargeText(): void {
  lastLargeText = undefined;
  lastLargeBytes = undefined;
}

/** The body to send for a large text: the string itself the first time, its cached bytes from the second on. */
function largeTextBody(text: string): string | Buffer {
  if (text === lastLargeText) {
    // biome-ignore lint/suspicious/noAssignInExpressions: encode once, on the second send of the same text
    return (lastLargeBytes ??= Buffer.from(text, 'utf8'));
  }
  if (lastLargeText === undefined) process.nextTick(clearLargeText);
  lastLargeText = text;
  lastLargeBytes = undefined;
  return text;
}

// --- Pings and the server's sockets ---------------------------------------------------------------------------

/**
 * Sockets pinged at one interval by one timer (a timer and its closure per socket otherwise). A server keeps its
 * own group (`NodeSocketGroup`, which is also how it finds its sockets at shutdown: `ws`'s own client tracking
 * costs a closure, its context and a second `close` listener per socket); sockets accepted without one share a
 * group per interval.
 */
export class NodeSocketGroup {
  readonly #members = new Set<NodeServerSocket>();
  readonly #intervalMs: number;
  readonly #onEmpty: (() => void) | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** `intervalMs` 0: no pings, the group only tracks its sockets. */
  constructor(intervalMs: number, onEmpty?: () => void) {
    this.#intervalMs = intervalMs;
    this.#onEmpty = onEmpty;
  }

  get size(): number {
    return this.#members.size;
  }

  get pings(): boolean {
    return this.#intervalMs > 0;
  }

  add(member: NodeServerSocket): void {
    this.#members.add(member);
    if (!this.#timer && this.#intervalMs > 0) {
      this.#timer = setInterval(() => this.#sweep(), this.#intervalMs);
      this.#timer.unref?.();
    }
  }

  delete(member: NodeServerSocket): void {
    this.#members.delete(member);
    if (this.#members.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#onEmpty?.();
    }
  }

  /** Drops every socket of the group without a handshake (shutdown, after the graceful closes). */
  terminateAll(): void {
    for (const member of [...this.#members]) member.terminate();
  }

  #sweep(): void {
    for (const member of this.#members) member.ping();
  }
}

const sweeps = new Map<number, NodeSocketGroup>();

function sweepFor(intervalMs: number): NodeSocketGroup {
  let sweep = sweeps.get(intervalMs);
  if (!sweep) {
    sweep = new NodeSocketGroup(intervalMs, () => sweeps.delete(intervalMs));
    sweeps.set(intervalMs, sweep);
  }
  return sweep;
}

/** `NodeServerSocket.heard` without a net socket: a pong came since the last ping, or none did. */
const PONGED = -1;
const PINGED = -2;

// --- The binding -----------------------------------------------------------------------------------------------

class NodeServerSocket implements RawServerSocket {
  readonly #ws: WebSocket;
  readonly #net: Corkable | undefined;
  connection: WebSocketServerConnection | undefined;
  /**
   * Liveness. With the net socket at hand: its `bytesRead` (int32) when last pinged, so that a peer that sent
   * nothing since, not even the pong, is dead at the next sweep (no `pong` listener: a fourth `ws` listener
   * doubles the size of the socket's listener table, 96 bytes). Without it: PONGED when a pong came since.
   */
  heard = PONGED;
  group: NodeSocketGroup | undefined;

  constructor(ws: WebSocket) {
    this.#ws = ws;
    this.#net = netSocketOf(ws);
  }

  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  sendText(channel: string, text: string): void {
    this.#cork();
    if (text.length >= LARGE_MESSAGE_BYTES) {
      this.#ws.send(textPrefix(channel), TEXT_FIRST);
      this.#ws.send(largeTextBody(text), TEXT_LAST);
      return;
    }
    const frame = textFrame(channel, text);
    if (typeof frame === 'string') this.#ws.send(frame);
    else this.#ws.send(frame, TEXT);
  }

  /**
   * Text given as UTF-8 pieces goes out as they are: the channel prefix as the first fragment, then each piece
   * as a fragment of the same text message (no string, no UTF-8 counted or encoded, no copy), as large text does.
   */
  sendUtf8Text(channel: string, text: Utf8Text): void {
    const parts = text.parts;
    if (text.byteLength < LARGE_MESSAGE_BYTES || parts.length === 0) {
      this.sendText(channel, text.text());
      return;
    }
    this.#cork();
    this.#ws.send(textPrefix(channel), TEXT_FIRST);
    const last = parts.length - 1;
    for (let i = 0; i < last; i++) this.#ws.send(parts[i] as Uint8Array, TEXT_FIRST);
    this.#ws.send(parts[last] as Uint8Array, TEXT_LAST);
  }

  sendBinary(channel: string, bytes: Uint8Array): void {
    this.#cork();
    if (bytes.byteLength >= LARGE_MESSAGE_BYTES) {
      this.#ws.send(binaryPrefix(channel), BINARY_FIRST);
      this.#ws.send(bytes, BINARY_LAST);
      return;
    }
    this.#ws.send(encodeBinaryFrameBuffer(channel, bytes), BINARY);
  }

  close(code: number, reason: string): void {
    this.#ws.close(code, reason);
  }

  terminate(): void {
    this.#ws.terminate();
  }

  /** True when pongs must be reported (`heard = PONGED`) because the bytes read cannot be seen. */
  get needsPongs(): boolean {
    return this.#net === undefined;
  }

  ping(): void {
    const net = this.#net;
    // Anything read since the last ping (its pong, a message) proves the peer alive.
    const heard = net ? net.bytesRead | 0 : PINGED;
    if (heard === this.heard) {
      this.connection?.terminate(CloseCode.HeartbeatTimeout, 'no pong within the ping interval');
      return;
    }
    this.heard = heard;
    this.#ws.ping();
  }

  #cork(): void {
    const net = this.#net;
    // Only the first send of a tick corks (a socket corked by someone else is left to them).
    if (net && net.writableCorked === 0 && !net.destroyed) {
      net.cork();
      process.nextTick(uncork, net);
    }
  }
}

function onMessage(this: OwnedWebSocket, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
  const connection = this[OWNER]?.connection;
  if (!connection) return;
  const bytes = Array.isArray(data)
    ? Buffer.concat(data)
    : data instanceof ArrayBuffer
      ? Buffer.from(data)
      : data;
  if (isBinary) connection.receiveBinary(bytes);
  // A large text stays bytes until someone reads it as a string (the protocol's JSON codec does not).
  else if (bytes.byteLength >= LAZY_TEXT_MIN_BYTES) connection.receiveTextBytes(bytes);
  else connection.receiveText(bytes.toString('utf8'), bytes.byteLength);
}

function onPong(this: OwnedWebSocket): void {
  const owner = this[OWNER];
  if (owner) owner.heard = PONGED;
}

function onClose(this: OwnedWebSocket, code: number, reason: Buffer): void {
  const owner = this[OWNER];
  if (!owner) return;
  owner.group?.delete(owner);
  owner.connection?.receiveClose(
    code || CloseCode.Abnormal,
    reason.toString('utf8'),
    code !== CloseCode.Abnormal,
  );
}

function onError(): void {
  // `ws` closes the socket with the right code (1002, 1007, 1009) after an error and then emits 'close'.
}

export function acceptNodeWebSocket(
  socket: WebSocket,
  request: ConnectionRequest,
  options: NodeWebSocketOptions,
): ServerConnection {
  const owned = socket as OwnedWebSocket;
  const raw = new NodeServerSocket(socket);
  const connection = new WebSocketServerConnection(raw, request, options.limits);
  raw.connection = connection;
  owned[OWNER] = raw;
  shareEmptyExtensions(socket);
  socket.on('message', onMessage);
  const group = options.group ?? (options.pingIntervalMs > 0 ? sweepFor(options.pingIntervalMs) : undefined);
  if (group) {
    if (group.pings && raw.needsPongs) socket.on('pong', onPong);
    raw.group = group;
    group.add(raw);
  }
  socket.on('close', onClose);
  socket.on('error', onError);
  return connection;
}
