/**
 * The server's queue towards one client: one FIFO and one pump per lane, so that a lane whose stream is
 * backed up (a lost packet being recovered, a full flow-control window) never holds back another lane's
 * messages. On rungs with one ordered connection there is one lane and this is a plain FIFO. The
 * slow-consumer bounds are totals over all lanes: a client that stops reading one topic still cannot make
 * the server hold more than `maxMessages` / `maxBytes` for it.
 */
import { SENT } from '../../src/connection-core.ts';
import type { SendOptions, ServerConnection } from '../../src/transport.ts';
import { DEFAULT_CHANNEL } from '../../src/transport.ts';
import { payloadByteLength } from '../../src/utf8.ts';
import type { OutgoingPayload } from '../../src/utf8-text.ts';

/**
 * A payload's UTF-8 size, counted on first need and kept: most messages go straight to the rung and never need
 * it, and an event sent to many subscribers is counted once. `bytes` is negative until counted.
 */
export interface Sized {
  readonly payload: OutgoingPayload;
  bytes: number;
}

export function sizeOf(item: Sized): number {
  if (item.bytes < 0) item.bytes = payloadByteLength(item.payload);
  return item.bytes;
}

interface LaneQueue {
  readonly options: SendOptions | undefined;
  readonly payloads: OutgoingPayload[];
  readonly sizes: number[];
  /** Index of the next payload to send; the arrays are compacted once it has moved far enough. */
  head: number;
  pumping: boolean;
}

function newLane(options: SendOptions | undefined): LaneQueue {
  return { options, payloads: [], sizes: [], head: 0, pumping: false };
}

export interface OutgoingLimits {
  readonly maxMessages: number;
  readonly maxBytes: number;
}

/**
 * `Outgoing.push` on the default channel of a connection that has no queue (all it holds when idle): hands
 * `payload` to the rung when it fits the bounds. SENT: nothing to wait for; false: over the bounds (the caller
 * closes: SlowConsumer); any other promise: the rung asks to wait, and the caller makes the queue
 * (`waitOnDefault`).
 */
export function sendIdle(
  connection: ServerConnection,
  limits: OutgoingLimits,
  payload: OutgoingPayload,
  size: Sized | undefined,
): Promise<void> | false {
  if (limits.maxMessages < 1) return false;
  // As in push: the exact size only where the cheap upper bound does not settle the check.
  let bytes = size !== undefined && size.bytes >= 0 ? size.bytes : -1;
  if (bytes < 0) {
    const upper = typeof payload === 'string' ? payload.length * 3 : payload.byteLength;
    if (upper > limits.maxBytes) bytes = size ? sizeOf(size) : payloadByteLength(payload);
  }
  if (bytes > limits.maxBytes) return false;
  return connection.send(payload);
}

export class Outgoing {
  readonly #connection: ServerConnection;
  readonly #limits: OutgoingLimits;
  /**
   * The default channel's queue, made the first time the rung asks to wait: until then messages go straight
   * through and an idle connection holds no queue at all.
   */
  #default: LaneQueue | undefined;
  /** The other channels' queues (lanes of rungs with independent streams), made on their first message. */
  #lanes: Map<string, LaneQueue> | undefined;
  #messages = 0;
  #bytes = 0;
  #closed = false;

  constructor(connection: ServerConnection, limits: OutgoingLimits) {
    this.#connection = connection;
    this.#limits = limits;
  }

  /** Bytes queued here, not yet handed to the rung. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Queues `payload` on `channel` (`size`: its size where the caller keeps one, see `Sized`); false when that
   * would exceed the bounds (the caller closes: SlowConsumer).
   */
  push(channel: string, payload: OutgoingPayload, size?: Sized): boolean {
    if (this.#closed) return true;
    if (this.#messages + 1 > this.#limits.maxMessages) return false;
    // The exact size only where the cheap upper bound (3 bytes per UTF-16 unit) does not settle the check.
    let bytes = size !== undefined && size.bytes >= 0 ? size.bytes : -1;
    if (bytes < 0) {
      const upper = typeof payload === 'string' ? payload.length * 3 : payload.byteLength;
      if (this.#bytes + upper > this.#limits.maxBytes) {
        bytes = size ? sizeOf(size) : payloadByteLength(payload);
      }
    }
    if (bytes >= 0 && this.#bytes + bytes > this.#limits.maxBytes) return false;
    let lane = channel === DEFAULT_CHANNEL ? this.#default : this.#lanes?.get(channel);
    if (lane === undefined && channel !== DEFAULT_CHANNEL) {
      lane = newLane({ channel });
      this.#lanes ??= new Map();
      this.#lanes.set(channel, lane);
    }
    if (lane === undefined || (!lane.pumping && lane.head === lane.payloads.length)) {
      // An idle lane: hand it over now. When the rung took it below its high-water mark (the shared SENT
      // promise), there is nothing to wait for and no promise was made; otherwise wait before sending more.
      const sent = this.#connection.send(payload, lane?.options);
      if (sent !== SENT) {
        // The default lane exists only once it had to wait.
        if (lane === undefined) {
          lane = newLane(undefined);
          this.#default = lane;
        }
        this.#wait(lane, sent);
      }
      return true;
    }
    if (bytes < 0) bytes = size ? sizeOf(size) : payloadByteLength(payload);
    lane.payloads.push(payload);
    lane.sizes.push(bytes);
    this.#messages++;
    this.#bytes += bytes;
    if (!lane.pumping) this.#pump(lane);
    return true;
  }

  /** The queue was made because the default channel's last send (`sendIdle`) asked to wait for `sent`. */
  waitOnDefault(sent: Promise<void>): void {
    const lane = newLane(undefined);
    this.#default = lane;
    this.#wait(lane, sent);
  }

  #wait(lane: LaneQueue, sent: Promise<void>): void {
    lane.pumping = true;
    sent.then(
      () => {
        lane.pumping = false;
        if (!this.#closed && lane.head < lane.payloads.length) this.#pump(lane);
      },
      () => {
        // The rung closed under us; its close event disposes the protocol connection.
        lane.pumping = false;
      },
    );
  }

  /** Drops everything queued; later pushes are ignored. */
  close(): void {
    this.#closed = true;
    this.#default = undefined;
    this.#lanes = undefined;
    this.#messages = 0;
    this.#bytes = 0;
  }

  /** Sends what waits on `lane` until the rung asks to wait (any promise but SENT) or the lane is empty. */
  #pump(lane: LaneQueue): void {
    while (!this.#closed && lane.head < lane.payloads.length) {
      const payload = lane.payloads[lane.head] as OutgoingPayload;
      this.#bytes -= lane.sizes[lane.head] as number;
      this.#messages--;
      lane.head++;
      if (lane.head === lane.payloads.length) {
        lane.payloads.length = 0;
        lane.sizes.length = 0;
        lane.head = 0;
      } else if (lane.head >= 1024) {
        lane.payloads.splice(0, lane.head);
        lane.sizes.splice(0, lane.head);
        lane.head = 0;
      }
      // The rung's promise carries its backpressure (per stream where streams are independent).
      const sent = this.#connection.send(payload, lane.options);
      if (sent !== SENT) {
        this.#wait(lane, sent);
        return;
      }
    }
  }
}
