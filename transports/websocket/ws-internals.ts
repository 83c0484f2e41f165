/**
 * The private fields of `ws` that the Node binding uses, each feature-tested so that another `ws` version only
 * loses the optimisation: the net.Socket under a WebSocket (corking, bytes read for liveness) and the per-socket
 * extensions object (shared when empty, for idle memory).
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

export interface Corkable {
  readonly writableCorked: number;
  readonly destroyed: boolean;
  readonly bytesRead: number;
  cork(): void;
  uncork(): void;
}

export function netSocketOf(ws: WebSocket): Corkable | undefined {
  const socket = (ws as unknown as { _socket?: Partial<Socket> })._socket;
  return socket &&
    typeof socket.cork === 'function' &&
    typeof socket.uncork === 'function' &&
    typeof socket.writableCorked === 'number' &&
    typeof socket.bytesRead === 'number'
    ? (socket as Corkable)
    : undefined;
}

/**
 * `ws` gives every socket its own empty extensions object (shared by the socket, its Receiver and its Sender),
 * 56 bytes per idle connection, though only a negotiated permessage-deflate ever writes to it, during the
 * handshake, and servers here never negotiate one (perMessageDeflate: false). After the handshake it is only
 * read, so every socket without extensions shares one frozen empty object. Private `ws` fields: feature-tested,
 * left alone unless all three hold the same empty object.
 */
const NO_EXTENSIONS: Readonly<Record<string, never>> = Object.freeze({});

interface WsExtensions {
  _extensions?: object;
  _receiver?: { _extensions?: object };
  _sender?: { _extensions?: object };
}

export function shareEmptyExtensions(ws: WebSocket): void {
  const socket = ws as unknown as WsExtensions;
  const own = socket._extensions;
  const receiver = socket._receiver;
  const sender = socket._sender;
  if (!own || own === NO_EXTENSIONS || Object.keys(own).length !== 0) return;
  if (!receiver || !sender || receiver._extensions !== own || sender._extensions !== own) return;
  socket._extensions = NO_EXTENSIONS;
  receiver._extensions = NO_EXTENSIONS;
  sender._extensions = NO_EXTENSIONS;
}

/**
 * The net.Socket under a WebSocket, for writing a frame straight to it past `ws`'s Sender: only where the Sender
 * would write at once itself (open, nothing queued or being compressed, not inside a fragmented message, no
 * extension), so that frames still leave in the order they were sent. Feature-tested on every call (only large
 * messages ask, and nothing is kept per connection): undefined with a `ws` whose internals differ.
 */
interface WsSenderState {
  _state?: unknown;
  _queue?: unknown;
  _firstFragment?: unknown;
  _extensions?: unknown;
}

export interface FrameSocket {
  write(chunk: Uint8Array | string): boolean;
}

/** 1, `WebSocket.OPEN`; 0, the Sender's DEFAULT state (no deflate or Blob read under way). */
const OPEN = 1;
const SENDER_IDLE = 0;

export function directSocketOf(ws: WebSocket): FrameSocket | undefined {
  const inner = ws as unknown as { _sender?: WsSenderState; _socket?: Partial<FrameSocket> };
  const sender = inner._sender;
  const socket = inner._socket;
  return ws.readyState === OPEN &&
    sender !== undefined &&
    sender._state === SENDER_IDLE &&
    Array.isArray(sender._queue) &&
    sender._queue.length === 0 &&
    sender._firstFragment === true &&
    sender._extensions === NO_EXTENSIONS &&
    typeof socket?.write === 'function'
    ? (socket as FrameSocket)
    : undefined;
}
