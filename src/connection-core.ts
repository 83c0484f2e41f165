/**
 * The bookkeeping every adapter repeats otherwise: state transitions, one `close` event exactly once,
 * and the checks a payload must pass before any rung touches it. Adapters own the I/O; this owns the rules.
 */
import { CloseCode, capCloseReason, isSendableCloseCode } from './close-codes.ts';
import { Emitter } from './emitter.ts';
import { SwitchyardError } from './errors.ts';
import { assertChannel } from './frame.ts';
import type { CloseEvent, SendOptions, ServerConnection, TransportState } from './transport.ts';
import { DEFAULT_CHANNEL } from './transport.ts';
import { payloadByteLength } from './utf8.ts';
import type { OutgoingPayload } from './utf8-text.ts';

export interface CoreEvents {
  open: undefined;
  message: import('./transport.ts').MessageEvent;
  close: CloseEvent;
  error: SwitchyardError;
}

/**
 * Is its own emitter (one object per connection instead of two: every connection holds one, mostly idle);
 * `events` is the same object under the name the rungs use.
 */
export class ConnectionCore<Events extends CoreEvents = CoreEvents> extends Emitter<Events> {
  state: TransportState = 'connecting';

  get events(): Emitter<Events> {
    return this;
  }

  markOpen(): boolean {
    if (this.state !== 'connecting') return false;
    this.state = 'open';
    this.emit('open', undefined as Events['open']);
    return true;
  }

  /** Emits `close` once; later calls are ignored (a rung may report the end several ways). */
  markClosed(code: number, reason: string, wasClean: boolean): boolean {
    if (this.state === 'closed') return false;
    this.state = 'closed';
    this.emit('close', { code, reason, wasClean } as Events['close']);
    return true;
  }

  emitError(error: SwitchyardError): void {
    this.emit('error', error as Events['error']);
  }

  /**
   * Validates one outgoing message; throws the error `send()` must reject with. `bytes` is exact for binary
   * and for text near the limit, and a lower bound (UTF-16 length) for short text.
   */
  checkSend(
    data: OutgoingPayload,
    options: SendOptions | undefined,
    maxMessageBytes: number,
  ): { channel: string; bytes: number } {
    if (this.state !== 'open') {
      throw new SwitchyardError(
        this.state === 'connecting' ? 'ERR_NOT_OPEN' : 'ERR_CLOSED',
        `cannot send: connection is ${this.state}`,
      );
    }
    const channel = options?.channel ?? DEFAULT_CHANNEL;
    if (channel !== DEFAULT_CHANNEL) assertChannel(channel);
    // A UTF-16 unit is at most 3 UTF-8 bytes: short text needs no exact count (this runs on every send).
    const bytes =
      typeof data !== 'string'
        ? data.byteLength
        : data.length * 3 <= maxMessageBytes
          ? data.length
          : payloadByteLength(data);
    if (bytes > maxMessageBytes) {
      throw new SwitchyardError(
        'ERR_MESSAGE_TOO_BIG',
        `message of ${bytes} bytes exceeds the limit of ${maxMessageBytes}`,
        {
          closeCode: CloseCode.MessageTooBig,
        },
      );
    }
    return { channel, bytes };
  }
}

/**
 * How the server's registry of open connections learns that one closed, where the connection offers it (this
 * package's server connections): told once, after the `close` listeners, instead of through a `close` listener
 * of its own (a closure and its context per connection, and a listener array once the app listens too).
 */
export const WATCH_CLOSE: unique symbol = Symbol('switchyard.watchClose');

export interface CloseWatcher {
  connectionClosed(connection: ServerConnection): void;
}

export interface CloseWatchable {
  [WATCH_CLOSE](watcher: CloseWatcher): void;
}

/** Normalises the arguments of `close(code, reason)` the same way on every rung. */
export function normalizeClose(
  code: number | undefined,
  reason: string | undefined,
): { code: number; reason: string } {
  const c = code ?? CloseCode.Normal;
  if (!isSendableCloseCode(c)) {
    throw new SwitchyardError(
      'ERR_INVALID_CLOSE_CODE',
      `close code ${c} may not be sent (use 1000 or 3000-4999)`,
    );
  }
  return { code: c, reason: capCloseReason(reason ?? '') };
}

/**
 * What `send()` returns when the data was taken and nothing needs to be waited for: one shared, resolved
 * promise, so that a hot sender can see it needs neither to wait nor to attach a handler (no allocation).
 */
export const SENT: Promise<void> = Promise.resolve();

/**
 * What `waitForDrain` watches: the connection itself, so that a send that has room allocates nothing (no
 * closures, one shared settled promise) and every rung applies backpressure the same way.
 */
export interface Drainable {
  readonly state: TransportState;
  readonly bufferedAmount: number;
  /** Where each channel has its own stream (WebTransport), the bytes still waiting on one channel's stream. */
  bufferedAmountOn?(channel: string): number;
}

function buffered(connection: Drainable, channel: string | undefined): number {
  return channel === undefined || connection.bufferedAmountOn === undefined
    ? connection.bufferedAmount
    : connection.bufferedAmountOn(channel);
}

/**
 * Resolves once the connection's buffer (or one channel's, where channels drain independently) is at or below
 * `highWaterMark`; rejects if the connection closes first. Polls because browsers offer no drain event.
 */
export function waitForDrain(
  connection: Drainable,
  highWaterMark: number,
  channel?: string,
  pollMs = 5,
): Promise<void> {
  if (buffered(connection, channel) <= highWaterMark) return SENT;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (connection.state === 'closed') {
        reject(new SwitchyardError('ERR_CLOSED', 'closed before the send buffer drained'));
        return;
      }
      if (buffered(connection, channel) <= highWaterMark) resolve();
      else setTimeout(tick, pollMs);
    };
    setTimeout(tick, pollMs);
  });
}
