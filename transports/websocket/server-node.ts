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
import type { Utf8Text } from '../../src/utf8-text.ts';
import {
  BINARY,
  BINARY_FIRST,
  BINARY_LAST,
  binaryPrefix,
  encodeBinaryFrameBuffer,
  LARGE_MESSAGE_BYTES,
  largeFrameHead,
  largeTextBody,
  TEXT,
  TEXT_FIRST,
  TEXT_LAST,
  textFrame,
  textPrefix,
} from './node-frames.ts';
import { type RawServerSocket, WebSocketServerConnection } from './server.ts';
import {
  type Corkable,
  directSocketOf,
  type FrameSocket,
  netSocketOf,
  shareEmptyExtensions,
} from './ws-internals.ts';

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
      const body = largeTextBody(text);
      const socket = this.#direct(
        false,
        channel,
        typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
      );
      if (socket) socket.write(body);
      else {
        this.#ws.send(textPrefix(channel), TEXT_FIRST);
        this.#ws.send(body, TEXT_LAST);
      }
      return;
    }
    const frame = textFrame(channel, text);
    if (typeof frame === 'string') this.#ws.send(frame);
    else this.#ws.send(frame, TEXT);
  }

  /**
   * Text given as UTF-8 pieces goes out as they are, after the channel prefix (no string, no UTF-8 counted or
   * encoded, no copy): in one frame where it can be written directly, else each piece as a fragment.
   */
  sendUtf8Text(channel: string, text: Utf8Text): void {
    const parts = text.parts;
    if (text.byteLength < LARGE_MESSAGE_BYTES || parts.length === 0) {
      this.sendText(channel, text.text());
      return;
    }
    this.#cork();
    const socket = this.#direct(false, channel, text.byteLength);
    if (socket) {
      for (const part of parts) socket.write(part);
      return;
    }
    this.#ws.send(textPrefix(channel), TEXT_FIRST);
    const last = parts.length - 1;
    for (let i = 0; i < last; i++) this.#ws.send(parts[i] as Uint8Array, TEXT_FIRST);
    this.#ws.send(parts[last] as Uint8Array, TEXT_LAST);
  }

  sendBinary(channel: string, bytes: Uint8Array): void {
    this.#cork();
    if (bytes.byteLength >= LARGE_MESSAGE_BYTES) {
      const socket = this.#direct(true, channel, bytes.byteLength);
      if (socket) {
        socket.write(bytes);
        return;
      }
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

  /**
   * Writes the head of a large frame straight to the net socket and returns the socket for its body, when `ws`'s
   * Sender would have written at once itself; undefined (nothing written) otherwise.
   */
  #direct(binary: boolean, channel: string, bodyBytes: number): FrameSocket | undefined {
    const socket = directSocketOf(this.#ws);
    socket?.write(largeFrameHead(binary, channel, bodyBytes));
    return socket;
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
