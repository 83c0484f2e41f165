/**
 * One client connection speaking the switchyard protocol, on any rung. Everything about a topic (sub, unsub,
 * pub, vpub upstream; msg, reset, ack, topic errors downstream) travels on that topic's lane, so a topic's
 * traffic is ordered with itself and independent of other topics where the rung has independent streams;
 * connection-level traffic (hello, welcome, ping, pong) stays on the default channel. Incoming work runs in
 * order per channel the client used (serial.ts): in order within a topic, never queued behind another topic,
 * and without a single promise when the hub and the session store answer at once (the embedded ones do).
 * A connection owns no timer: the protocol sweeps every connection for hello deadlines and silence.
 * This file holds the connection's life: hello and session binding, dispatch of what arrives, close. The
 * other concerns have their own rooms: publish.ts (pub/vpub -> ack), subscriptions.ts (sub/unsub),
 * delivery.ts (hub events out, encoded once), outgoing.ts (the queue per lane).
 */
import type { Refusal } from '../../src/admission.ts';
import { CloseCode } from '../../src/close-codes.ts';
import { type Codec, codecs } from '../../src/codec.ts';
import { SENT } from '../../src/connection-core.ts';
import { type Envelope, type HelloEnvelope, PROTOCOL_VERSION } from '../../src/envelope.ts';
import { isSwitchyardError } from '../../src/errors.ts';
import { DEFAULT_MAX_LANES, LaneMap } from '../../src/lanes.ts';
import type { CloseEvent, MessageEvent, Payload, ServerConnection } from '../../src/transport.ts';
import { DEFAULT_CHANNEL } from '../../src/transport.ts';
import type { OutgoingPayload } from '../../src/utf8-text.ts';
import type { HubSubscription } from '../hub/hub.ts';
import type { ProtocolContext, Settings } from './index.ts';
import { describeError } from './outcomes.ts';
import { Outgoing, type Sized, sendIdle } from './outgoing.ts';
import {
  answerPresence,
  type ConnectionPresence,
  dropPresence,
  enterPresence,
  leavePresence,
  refuseInfo,
} from './presence.ts';
import { publish, publishVolatile } from './publish.ts';
import { type Maybe, SerialChannels } from './serial.ts';
import type { Session } from './sessions.ts';
import { dropSubscriptions, subscribe, unsubscribe } from './subscriptions.ts';

export { MAX_TOPIC_LENGTH } from './outcomes.ts';

/** Every topic on the default channel: holds no state, so all connections without lanes share it. */
const NO_LANES = new LaneMap(0);
const MAX_EARLY_MESSAGES = 64;

const EPOCH = Date.now();
/**
 * The protocol's clock: ms since this module loaded, as an int32 (`| 0`: V8 stores a small integer in the object
 * itself, any other number as a 16-byte heap number). It wraps every 49 days: compare two readings by
 * `(a - b) | 0`, which is exact while they are less than 24 days apart.
 */
export function now(): number {
  return (Date.now() - EPOCH) | 0;
}

/**
 * Members without `#` are shared with the sibling modules that hold the protocol's other concerns
 * (publish.ts, subscriptions.ts, delivery.ts); nothing outside server/protocol sees this class.
 */
export class ProtocolConnection {
  readonly connection: ServerConnection;
  readonly settings: Settings;
  codec: Codec = codecs.json;
  #hello: HelloEnvelope | undefined;
  session: Session | undefined;
  closed = false;
  /** An error was sent and the close follows: nothing more is processed. */
  #failing = false;
  /** Set while hello is being authenticated, so nothing else is processed before it. */
  #helloPending = false;
  /** Downstream lanes; none until hello says how many the client accepts. */
  lanes = NO_LANES;
  /** Created on the first `sub` (most memory per idle connection is such empty structures). */
  subs: Map<string, Promise<HubSubscription | undefined>> | undefined;
  /** Made on the first `sub`: this connection's presence member id and topics (presence.ts). */
  presence: ConnectionPresence | undefined;
  /** Who `authenticate` said this is (ProtocolContext.user). */
  #user: string | undefined;
  /**
   * The queue towards the client, made the first time a send has to wait or a lane is used: until then every
   * message goes straight to the rung, and an idle connection holds no queue (`sendIdle`).
   */
  #out: Outgoing | undefined;
  /** Incoming work that must keep its order, per channel the client sends on. */
  #incoming: SerialChannels<Envelope> | undefined;
  /**
   * When the client was last heard from, on the protocol's clock (`now()`): a small integer is stored in the
   * object itself, a `Date.now()` would be a 16-byte heap number per connection. Until hello it is the time
   * the connection opened (the first message is the hello, and nothing is swept while it is authenticated).
   */
  #lastSeen = now();
  /** Messages that arrived while hello was being authenticated. */
  #early: { payload: Payload; channel: string; utf8: boolean }[] | undefined;
  /** What the app's hooks are told about this connection; one object, made when a hook first needs it. */
  #context: ProtocolContext | undefined;

  constructor(connection: ServerConnection, settings: Settings) {
    this.connection = connection;
    this.settings = settings;
    const listener = ProtocolConnection.#listenerOf(this);
    connection.on('message', listener);
    connection.on('close', listener);
    settings.all.add(this);
    if (connection.state === 'closed') this.dispose();
  }

  /**
   * One listener for both events of the rung (a closure is 56 bytes per connection). Made by a function, not
   * assigned to a name here: tsx (`keepNames`) would give a named closure its own property table.
   */
  static #listenerOf(conn: ProtocolConnection): (event: MessageEvent | CloseEvent) => void {
    return (event) => {
      if (!('data' in event)) conn.dispose();
      // A large text the rung has as bytes is decoded from them: `data` (a string made on read) is not touched.
      else if (event.utf8 === undefined) conn.#onPayload(event.data, event.channel);
      else conn.#onPayload(event.utf8, event.channel, true);
    };
  }

  /**
   * Called by the protocol's one sweep timer: a connection must say hello within `helloTimeoutMs`, and the
   * client pings every `heartbeatMs`, so silence for over two intervals (plus slack for one late ping) means a
   * dead path. `at`: the protocol's clock (`now()`).
   */
  sweep(at: number): void {
    if (!this.#hello) {
      if (((at - this.#lastSeen) | 0) > this.settings.helloTimeoutMs && !this.#helloPending) {
        this.close(CloseCode.HeartbeatTimeout, 'no hello within the allowed time');
      }
      return;
    }
    if (((at - this.#lastSeen) | 0) > this.settings.heartbeatMs * 2.5) {
      this.close(CloseCode.HeartbeatTimeout, 'no message from the client within two heartbeat intervals');
    }
  }

  /** A newer connection of the same session took this one's place. */
  replace(): void {
    this.close(CloseCode.Replaced, 'a newer connection of this session took over');
  }

  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.settings.all.delete(this);
    if (this.#hello) this.settings.live.size--;
    dropSubscriptions(this);
    dropPresence(this);
    this.#out?.close();
    if (this.session) this.settings.sessions.detach(this.session, this);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.dispose();
    try {
      this.connection.close(code, reason);
    } catch {
      // Already closing: the rung reports its own close.
    }
  }

  /** Only called past welcome, when the session and hello are known. */
  hookContext(): ProtocolContext {
    this.#context ??= {
      connection: this.connection,
      session: this.session as Session,
      hello: this.#hello as HelloEnvelope,
      ...(this.#user === undefined ? {} : { user: this.#user }),
    };
    return this.#context;
  }

  /** Queues on `topic`'s lane (the default channel for connection-level envelopes). */
  send(envelope: Envelope, topic?: string): void {
    if (this.closed) return;
    this.enqueueOut(this.lanes.channelFor(topic), this.codec.encode(envelope), undefined);
  }

  /** Bytes queued here, not yet handed to the rung. */
  get queuedBytes(): number {
    return this.#out?.bytes ?? 0;
  }

  enqueueOut(channel: string, payload: OutgoingPayload, size: Sized | undefined): void {
    if (this.closed) return;
    let out = this.#out;
    if (out === undefined && channel === DEFAULT_CHANNEL) {
      const sent = sendIdle(this.connection, this.settings.outgoingLimits, payload, size);
      if (sent === SENT) return;
      if (sent !== false) {
        this.#out = new Outgoing(this.connection, this.settings.outgoingLimits);
        this.#out.waitOnDefault(sent);
        return;
      }
    } else {
      if (out === undefined) {
        out = new Outgoing(this.connection, this.settings.outgoingLimits);
        this.#out = out;
      }
      if (out.push(channel, payload, size)) return;
    }
    this.settings.stats.slowConsumers++;
    this.close(CloseCode.SlowConsumer, 'outgoing queue full: the client does not read fast enough');
  }

  sendError(code: string, message: string, topic?: string, ref?: string): void {
    this.send(
      ref === undefined ? { type: 'error', code, message } : { type: 'error', code, message, ref },
      topic,
    );
  }

  /** Sends an error envelope and then closes, giving the error a chance to arrive first. */
  #fail(closeCode: number, code: string, message: string): void {
    if (this.closed) return;
    const payload = this.codec.encode({ type: 'error', code, message });
    const close = () => this.close(closeCode, message);
    // Stop processing at once; the close itself follows the error.
    this.#failing = true;
    this.connection.send(payload).then(close, close);
  }

  /** `utf8`: `payload` is a text message's UTF-8 bytes (a large one: its `data` may stay bytes, RawJson). */
  #onPayload(payload: Payload, channel: string, utf8 = false): void {
    if (this.closed || this.#failing) return;
    this.#lastSeen = now();
    const text = utf8 || typeof payload === 'string';
    let envelope: Envelope;
    try {
      envelope =
        typeof payload === 'string'
          ? codecs.json.decode(payload)
          : utf8
            ? codecs.json.decodeUtf8(payload)
            : codecs.msgpack.decode(payload);
    } catch (error) {
      const message = isSwitchyardError(error) ? error.message : describeError(error);
      this.#fail(CloseCode.BadEnvelope, 'ERR_INVALID_ENVELOPE', message);
      return;
    }
    if (!this.#hello) {
      if (this.#helloPending) {
        // Pipelined after hello (the client need not wait for welcome): kept, in order, until it is answered.
        this.#early ??= [];
        if (this.#early.length >= MAX_EARLY_MESSAGES) {
          this.#fail(CloseCode.TryAgainLater, 'ERR_RATE_LIMITED', 'too many messages before welcome');
          return;
        }
        this.#early.push({ payload, channel, utf8 });
        return;
      }
      if (envelope.type !== 'hello') {
        this.#fail(
          CloseCode.BadEnvelope,
          'ERR_INVALID_ENVELOPE',
          `expected hello first, got ${envelope.type}`,
        );
        return;
      }
      this.codec = text ? codecs.json : codecs.msgpack;
      void this.#onHello(envelope);
      return;
    }
    switch (envelope.type) {
      case 'ping':
        this.send({ type: 'pong', id: envelope.id });
        return;
      case 'pong':
        return;
      case 'sub':
      case 'unsub':
      case 'pub':
      case 'vpub':
      case 'presence':
        this.#enqueue(channel, envelope);
        return;
      default:
        this.#fail(
          CloseCode.BadEnvelope,
          'ERR_INVALID_ENVELOPE',
          `unexpected ${envelope.type} from a client`,
        );
    }
  }

  async #onHello(hello: HelloEnvelope): Promise<void> {
    this.#helloPending = true;
    if (hello.v !== PROTOCOL_VERSION) {
      this.#fail(
        CloseCode.BadEnvelope,
        'ERR_INVALID_ENVELOPE',
        `hello.v: this server speaks protocol ${PROTOCOL_VERSION}, got ${hello.v}`,
      );
      return;
    }
    let refusal: Refusal | null = null;
    try {
      const answer = (await this.settings.authenticate?.(hello, this.connection)) ?? null;
      if (answer && 'closeCode' in answer) refusal = answer;
      else this.#user = answer?.user;
    } catch (error) {
      refusal = {
        status: 500,
        closeCode: CloseCode.InternalError,
        code: 'ERR_INTERNAL',
        message: `authentication failed: ${describeError(error)}`,
      };
    }
    if (this.closed) return;
    if (refusal) {
      this.#fail(refusal.closeCode, refusal.code, refusal.message);
      return;
    }
    let attached: Awaited<ReturnType<Settings['sessions']['attach']>>;
    try {
      attached = await this.settings.sessions.attach(hello.session, this);
    } catch (error) {
      // The session store is unreachable (Redis down): a retryable refusal, nothing was started.
      this.#fail(CloseCode.TryAgainLater, 'ERR_UNAVAILABLE', `session store: ${describeError(error)}`);
      return;
    }
    const { session, resumed } = attached;
    if (this.closed) {
      this.settings.sessions.detach(session, this);
      return;
    }
    this.session = session;
    this.#hello = hello;
    this.#helloPending = false;
    // Lanes only where streams are independent: on one ordered connection they would only cost bytes.
    const lanes = this.connection.capabilities.independentStreams
      ? Math.min(hello.lanes ?? DEFAULT_MAX_LANES, this.settings.maxLanes)
      : 0;
    if (lanes > 0) this.lanes = new LaneMap(lanes);
    this.settings.live.size++;
    this.send({
      type: 'welcome',
      session: session.id,
      heartbeatMs: this.settings.heartbeatMs,
      maxMessageBytes: this.settings.maxMessageBytes,
      resumed,
    });
    const early = this.#early;
    this.#early = undefined;
    for (const message of early ?? []) this.#onPayload(message.payload, message.channel, message.utf8);
  }

  #enqueue(channel: string, envelope: Envelope): void {
    // Made on the first message that needs it: an idle connection holds none.
    this.#incoming ??= new SerialChannels((e) => this.#process(e), this.settings.maxPendingIncoming);
    if (!this.#incoming.push(channel, envelope)) {
      this.close(CloseCode.TryAgainLater, 'too many messages waiting to be processed');
    }
  }

  /** Runs one incoming envelope; a promise only where something has to be waited for. Never throws. */
  #process(envelope: Envelope): Maybe<void> {
    if (this.closed) return undefined;
    try {
      switch (envelope.type) {
        case 'pub':
          return publish(this, envelope);
        case 'vpub':
          return publishVolatile(this, envelope);
        case 'sub':
          if (refuseInfo(this, envelope)) return undefined;
          return subscribe(this, envelope.topic, envelope.since, envelope.epoch)
            .then(() => enterPresence(this, envelope))
            .catch(() => undefined);
        case 'unsub':
          leavePresence(this, envelope.topic);
          return unsubscribe(this, envelope.topic);
        case 'presence':
          return answerPresence(this, envelope);
        default:
          return undefined;
      }
    } catch {
      return undefined;
    }
  }
}
