/**
 * One client connection speaking the switchyard protocol, on any rung. Everything about a topic (sub, unsub,
 * pub, vpub upstream; msg, reset, ack, topic errors downstream) travels on that topic's lane, so a topic's
 * traffic is ordered with itself and independent of other topics where the rung has independent streams;
 * connection-level traffic (hello, welcome, ping, pong) stays on the default channel. Incoming work runs in
 * order per channel the client used (serial.ts): in order within a topic, never queued behind another topic,
 * and without a single promise when the hub and the session store answer at once (the embedded ones do).
 * A connection owns no timer: the protocol sweeps every connection for hello deadlines and silence.
 */
import type { Refusal } from '../../src/admission.ts';
import { CloseCode } from '../../src/close-codes.ts';
import { type Codec, codecs } from '../../src/codec.ts';
import {
  type Envelope,
  type HelloEnvelope,
  PROTOCOL_VERSION,
  type PublishEnvelope,
  type VolatilePublishEnvelope,
} from '../../src/envelope.ts';
import { isSwitchyardError } from '../../src/errors.ts';
import { DEFAULT_MAX_LANES, LaneMap } from '../../src/lanes.ts';
import type { Payload, ServerConnection } from '../../src/transport.ts';
import { DEFAULT_CHANNEL } from '../../src/transport.ts';
import type { HubEvent, HubSubscription } from '../hub/hub.ts';
import type { OperationRefusal, ProtocolContext, Settings } from './index.ts';
import { Outgoing, type Sized, sizeOf } from './outgoing.ts';
import { isPromise, type Maybe, SerialChannels } from './serial.ts';
import { PUBLISHED, type PublishOutcome, type Session } from './sessions.ts';

export const MAX_TOPIC_LENGTH = 256;
/** Every topic on the default channel: holds no state, so all connections without lanes share it. */
const NO_LANES = new LaneMap(0);
const MAX_EARLY_MESSAGES = 64;

/**
 * A hub hands one event object to all its local subscribers in one go: encode it once per codec, not once per
 * subscriber. One slot per codec is enough for that (the subscribers of one event are called back to back) and,
 * unlike a map keyed by event, keeps no encoding alive for the messages a hub holds in its history.
 */
const lastEncoded: Record<Codec['name'], { event: HubEvent | undefined; encoded: Sized | undefined }> = {
  json: { event: undefined, encoded: undefined },
  msgpack: { event: undefined, encoded: undefined },
};

function encodeEvent(codec: Codec, event: HubEvent): Sized {
  const slot = lastEncoded[codec.name];
  if (slot.event === event) return slot.encoded as Sized;
  const envelope: Envelope =
    event.type === 'msg'
      ? { type: 'msg', topic: event.topic, seq: event.seq, data: event.data }
      : event.type === 'volatile'
        ? { type: 'vmsg', topic: event.topic, data: event.data }
        : { type: 'reset', topic: event.topic, seq: event.seq, reason: event.reason, epoch: event.epoch };
  const encoded: Sized = { payload: codec.encode(envelope), bytes: -1 };
  slot.event = event;
  slot.encoded = encoded;
  return encoded;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function failed(error: unknown): PublishOutcome {
  // Unavailable (maybe applied late, e.g. a timed-out Redis call): a retryable close keeps the message in the
  // client's outbox; the hub's idempotency key makes the re-sent copy write once.
  return isSwitchyardError(error, 'ERR_UNAVAILABLE')
    ? { ok: false, code: error.code, message: error.message, closeCode: CloseCode.TryAgainLater }
    : {
        ok: false,
        code: isSwitchyardError(error) ? error.code : 'ERR_PUBLISH_FAILED',
        message: describeError(error),
      };
}

const unavailable = (error: unknown): PublishOutcome => ({
  ok: false,
  code: 'ERR_UNAVAILABLE',
  message: describeError(error),
  closeCode: CloseCode.TryAgainLater,
});

function validTopic(topic: string): boolean {
  return topic.length > 0 && topic.length <= MAX_TOPIC_LENGTH;
}

export class ProtocolConnection {
  readonly #connection: ServerConnection;
  readonly #settings: Settings;
  #codec: Codec = codecs.json;
  #hello: HelloEnvelope | undefined;
  #session: Session | undefined;
  #closed = false;
  /** An error was sent and the close follows: nothing more is processed. */
  #failing = false;
  /** Set while hello is being authenticated, so nothing else is processed before it. */
  #helloPending = false;
  /** Downstream lanes; none until hello says how many the client accepts. */
  #lanes = NO_LANES;
  /** Created on the first `sub` (most memory per idle connection is such empty structures). */
  #subs: Map<string, Promise<HubSubscription | undefined>> | undefined;
  readonly #out: Outgoing;
  /** Incoming work that must keep its order, per channel the client sends on. */
  #incoming: SerialChannels<Envelope> | undefined;
  readonly #openedAt = Date.now();
  #lastSeen = this.#openedAt;
  /** Messages that arrived while hello was being authenticated. */
  #early: { payload: Payload; channel: string }[] | undefined;
  /** What the app's hooks are told about this connection; one object, made when a hook first needs it. */
  #context: ProtocolContext | undefined;

  constructor(connection: ServerConnection, settings: Settings) {
    this.#connection = connection;
    this.#settings = settings;
    this.#out = new Outgoing(connection, settings.outgoingLimits);
    connection.on('message', (event) => this.#onPayload(event.data, event.channel));
    connection.on('close', () => this.dispose());
    settings.all.add(this);
    if (connection.state === 'closed') this.dispose();
  }

  /**
   * Called by the protocol's one sweep timer: a connection must say hello within `helloTimeoutMs`, and the
   * client pings every `heartbeatMs`, so silence for over two intervals (plus slack for one late ping) means a
   * dead path.
   */
  sweep(now: number): void {
    if (!this.#hello) {
      if (now - this.#openedAt > this.#settings.helloTimeoutMs && !this.#helloPending) {
        this.#close(CloseCode.HeartbeatTimeout, 'no hello within the allowed time');
      }
      return;
    }
    if (now - this.#lastSeen > this.#settings.heartbeatMs * 2.5) {
      this.#close(CloseCode.HeartbeatTimeout, 'no message from the client within two heartbeat intervals');
    }
  }

  /** A newer connection of the same session took this one's place. */
  replace(): void {
    this.#close(CloseCode.Replaced, 'a newer connection of this session took over');
  }

  dispose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#settings.all.delete(this);
    this.#settings.live.delete(this);
    for (const pending of this.#subs?.values() ?? []) void pending.then((s) => s?.unsubscribe());
    this.#subs = undefined;
    this.#out.close();
    if (this.#session) this.#settings.sessions.detach(this.#session, this);
  }

  #close(code: number, reason: string): void {
    if (this.#closed) return;
    this.dispose();
    try {
      this.#connection.close(code, reason);
    } catch {
      // Already closing: the rung reports its own close.
    }
  }

  /** Only called past welcome, when the session and hello are known. */
  #hookContext(): ProtocolContext {
    this.#context ??= {
      connection: this.#connection,
      session: this.#session as Session,
      hello: this.#hello as HelloEnvelope,
    };
    return this.#context;
  }

  /** Queues on `topic`'s lane (the default channel for connection-level envelopes). */
  #send(envelope: Envelope, topic?: string): void {
    if (this.#closed) return;
    this.#enqueueOut(this.#lanes.channelFor(topic), this.#codec.encode(envelope), undefined);
  }

  #enqueueOut(channel: string, payload: Payload, size: Sized | undefined): void {
    if (this.#out.push(channel, payload, size)) return;
    this.#settings.stats.slowConsumers++;
    this.#close(CloseCode.SlowConsumer, 'outgoing queue full: the client does not read fast enough');
  }

  #onHubEvent(event: HubEvent): void {
    if (this.#closed) return;
    const encoded = encodeEvent(this.#codec, event);
    if (event.type === 'volatile') this.#sendVolatile(event.topic, encoded);
    else this.#enqueueOut(this.#lanes.channelFor(event.topic), encoded.payload, encoded);
  }

  /**
   * Unreliable delivery: a datagram where the rung has them and it fits (the rung drops it under pressure,
   * it never queues behind streams); else straight onto the topic's lane, ahead of queued reliable traffic
   * (allowed: unreliable messages carry no order with respect to anything), unless the client is backed up,
   * in which case it is dropped rather than queued.
   */
  #sendVolatile(topic: string, encoded: Sized): void {
    const stats = this.#settings.stats;
    const payload = encoded.payload;
    const bytes = sizeOf(encoded);
    const capabilities = this.#connection.capabilities;
    let sent: Promise<void>;
    if (capabilities.datagrams && bytes <= (capabilities.maxDatagramBytes ?? 0)) {
      sent = this.#connection.send(payload, { reliable: false });
    } else if (
      this.#connection.bufferedAmount + this.#out.bytes + bytes >
      this.#settings.volatileHighWaterMark
    ) {
      stats.volatileDropped++;
      return;
    } else {
      const channel = this.#lanes.channelFor(topic);
      sent = this.#connection.send(payload, channel === DEFAULT_CHANNEL ? undefined : { channel });
    }
    stats.volatileSent++;
    sent.catch(() => {
      // The rung is closing; unreliable data has no one to tell.
    });
  }

  #sendError(code: string, message: string, topic?: string, ref?: string): void {
    this.#send(
      ref === undefined ? { type: 'error', code, message } : { type: 'error', code, message, ref },
      topic,
    );
  }

  /** Sends an error envelope and then closes, giving the error a chance to arrive first. */
  #fail(closeCode: number, code: string, message: string): void {
    if (this.#closed) return;
    const payload = this.#codec.encode({ type: 'error', code, message });
    const close = () => this.#close(closeCode, message);
    // Stop processing at once; the close itself follows the error.
    this.#failing = true;
    this.#connection.send(payload).then(close, close);
  }

  #onPayload(payload: Payload, channel: string): void {
    if (this.#closed || this.#failing) return;
    this.#lastSeen = Date.now();
    let envelope: Envelope;
    try {
      envelope = (typeof payload === 'string' ? codecs.json : codecs.msgpack).decode(payload);
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
        this.#early.push({ payload, channel });
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
      this.#codec = typeof payload === 'string' ? codecs.json : codecs.msgpack;
      void this.#onHello(envelope);
      return;
    }
    switch (envelope.type) {
      case 'ping':
        this.#send({ type: 'pong', id: envelope.id });
        return;
      case 'pong':
        return;
      case 'sub':
      case 'unsub':
      case 'pub':
      case 'vpub':
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
      refusal = (await this.#settings.authenticate?.(hello, this.#connection)) ?? null;
    } catch (error) {
      refusal = {
        status: 500,
        closeCode: CloseCode.InternalError,
        code: 'ERR_INTERNAL',
        message: `authentication failed: ${describeError(error)}`,
      };
    }
    if (this.#closed) return;
    if (refusal) {
      this.#fail(refusal.closeCode, refusal.code, refusal.message);
      return;
    }
    let attached: Awaited<ReturnType<Settings['sessions']['attach']>>;
    try {
      attached = await this.#settings.sessions.attach(hello.session, this);
    } catch (error) {
      // The session store is unreachable (Redis down): a retryable refusal, nothing was started.
      this.#fail(CloseCode.TryAgainLater, 'ERR_UNAVAILABLE', `session store: ${describeError(error)}`);
      return;
    }
    const { session, resumed } = attached;
    if (this.#closed) {
      this.#settings.sessions.detach(session, this);
      return;
    }
    this.#session = session;
    this.#hello = hello;
    this.#helloPending = false;
    // Lanes only where streams are independent: on one ordered connection they would only cost bytes.
    const lanes = this.#connection.capabilities.independentStreams
      ? Math.min(hello.lanes ?? DEFAULT_MAX_LANES, this.#settings.maxLanes)
      : 0;
    if (lanes > 0) this.#lanes = new LaneMap(lanes);
    this.#settings.live.add(this);
    this.#send({
      type: 'welcome',
      session: session.id,
      heartbeatMs: this.#settings.heartbeatMs,
      maxMessageBytes: this.#settings.maxMessageBytes,
      resumed,
    });
    const early = this.#early;
    this.#early = undefined;
    for (const message of early ?? []) this.#onPayload(message.payload, message.channel);
  }

  #enqueue(channel: string, envelope: Envelope): void {
    // Made on the first message that needs it: an idle connection holds none.
    this.#incoming ??= new SerialChannels((e) => this.#process(e), this.#settings.maxPendingIncoming);
    if (!this.#incoming.push(channel, envelope)) {
      this.#close(CloseCode.TryAgainLater, 'too many messages waiting to be processed');
    }
  }

  /** Runs one incoming envelope; a promise only where something has to be waited for. Never throws. */
  #process(envelope: Envelope): Maybe<void> {
    if (this.#closed) return undefined;
    try {
      switch (envelope.type) {
        case 'pub':
          return this.#publish(envelope);
        case 'vpub':
          return this.#publishVolatile(envelope);
        case 'sub':
          return this.#subscribe(envelope.topic, envelope.since, envelope.epoch).catch(() => undefined);
        case 'unsub': {
          const pending = this.#subs?.get(envelope.topic);
          this.#subs?.delete(envelope.topic);
          return pending?.then((s) => s?.unsubscribe()).catch(() => undefined);
        }
        default:
          return undefined;
      }
    } catch {
      return undefined;
    }
  }

  async #subscribe(topic: string, since: number | undefined, epoch: string | undefined): Promise<void> {
    if (!validTopic(topic)) {
      this.#sendError('ERR_INVALID_TOPIC', `sub.topic: expected 1-${MAX_TOPIC_LENGTH} characters`);
      return;
    }
    this.#subs ??= new Map();
    const subscriptions = this.#subs;
    const previous = subscriptions.get(topic);
    if (!previous && subscriptions.size >= this.#settings.maxSubscriptions) {
      this.#sendError(
        'ERR_TOO_MANY_SUBSCRIPTIONS',
        `at most ${this.#settings.maxSubscriptions} topics per connection`,
        topic,
      );
      return;
    }
    const refusal = await this.#settings.authorize?.('sub', topic, this.#hookContext());
    if (refusal) {
      this.#sendError(refusal.code, refusal.message, topic);
      return;
    }
    if (this.#closed) return;
    subscriptions.delete(topic);
    (await previous)?.unsubscribe();
    const pending = this.#settings.hub
      .subscribe(topic, since, (event) => this.#onHubEvent(event), epoch)
      .then(
        (subscription) => {
          // Unsubscribed or closed while the hub was answering: let go at once.
          if (this.#closed || this.#subs?.get(topic) !== pending) {
            subscription.unsubscribe();
            return undefined;
          }
          return subscription;
        },
        (error: unknown) => {
          // Hub unreachable: close with a retryable code, the client re-subscribes from its position later.
          if (isSwitchyardError(error, 'ERR_UNAVAILABLE'))
            this.#close(CloseCode.TryAgainLater, error.message);
          else this.#sendError('ERR_HUB', `subscribe ${topic}: ${describeError(error)}`, topic);
          return undefined;
        },
      );
    subscriptions.set(topic, pending);
    await pending;
  }

  /** The topic rule and the app's permission, for `pub` and `vpub` alike; null when allowed. */
  #refusePublish(topic: string | undefined, what: string): Maybe<PublishOutcome | null> {
    if (topic === undefined) return null;
    if (!validTopic(topic)) {
      return {
        ok: false,
        code: 'ERR_INVALID_TOPIC',
        message: `${what}.topic: expected 1-${MAX_TOPIC_LENGTH} characters`,
      };
    }
    const authorize = this.#settings.authorize;
    if (!authorize) return null;
    const refusal = authorize('pub', topic, this.#hookContext());
    const outcome = (r: OperationRefusal | null): PublishOutcome | null =>
      r ? { ok: false, code: r.code, message: r.message } : null;
    return isPromise(refusal) ? refusal.then(outcome) : outcome(refusal);
  }

  /** Hands the message to the app (by default: the hub); the outcome at once when the app answers at once. */
  #deliver(envelope: PublishEnvelope | VolatilePublishEnvelope, reliable: boolean): Maybe<PublishOutcome> {
    const onPublish = this.#settings.onPublish;
    if (onPublish === undefined) return this.#publishToHub(envelope, reliable);
    const context = this.#hookContext();
    let done: void | Promise<void>;
    try {
      done = onPublish(
        reliable
          ? {
              connection: context.connection,
              session: context.session,
              hello: context.hello,
              reliable: true,
              id: (envelope as PublishEnvelope).id,
              topic: envelope.topic,
              data: envelope.data,
            }
          : {
              connection: context.connection,
              session: context.session,
              hello: context.hello,
              reliable: false,
              id: undefined,
              topic: envelope.topic as string,
              data: envelope.data,
            },
      );
    } catch (error) {
      return failed(error);
    }
    return isPromise(done) ? done.then(() => PUBLISHED, failed) : PUBLISHED;
  }

  /**
   * The default `onPublish`: to the hub as the client sent it (a `pub` without a topic is acknowledged and
   * dropped). Completes at once when the hub does (the embedded one), so `pub` -> `ack` needs no promise.
   */
  #publishToHub(
    envelope: PublishEnvelope | VolatilePublishEnvelope,
    reliable: boolean,
  ): Maybe<PublishOutcome> {
    const topic = envelope.topic;
    if (topic === undefined) return PUBLISHED;
    const hub = this.#settings.hub;
    let done: Maybe<unknown>;
    try {
      done = reliable
        ? // The session and message id make the publish idempotent in a networked hub: a message re-sent to
          // another node after a crash between the hub's write and the ack is written once.
          hub.publish(topic, envelope.data, {
            idempotencyKey: `${(this.#session as Session).id}/${(envelope as PublishEnvelope).id}`,
          })
        : hub.publishVolatile(topic, envelope.data);
    } catch (error) {
      return failed(error);
    }
    return isPromise(done) ? done.then(() => PUBLISHED, failed) : PUBLISHED;
  }

  #apply(envelope: PublishEnvelope): Maybe<PublishOutcome> {
    this.#settings.stats.applied++;
    const refused = this.#refusePublish(envelope.topic, 'pub');
    if (isPromise(refused)) {
      return refused.then((r) => r ?? this.#deliver(envelope, true), failed);
    }
    return refused ?? this.#deliver(envelope, true);
  }

  #publish(envelope: PublishEnvelope): Maybe<void> {
    let dedup: ReturnType<Session['dedup']>;
    try {
      dedup = (this.#session as Session).dedup(envelope.id, () => this.#apply(envelope), {
        idempotent: this.#settings.idempotentPublish,
      });
    } catch (error) {
      this.#answer(envelope, unavailable(error));
      return undefined;
    }
    if (isPromise(dedup)) {
      return dedup.then(
        (result) => this.#settle(envelope, result),
        (error: unknown) => this.#answer(envelope, unavailable(error)),
      );
    }
    return this.#settle(envelope, dedup);
  }

  #settle(envelope: PublishEnvelope, result: Awaited<ReturnType<Session['dedup']>>): Maybe<void> {
    if (result.duplicate) this.#settings.stats.duplicates++;
    const outcome = result.outcome;
    if (isPromise(outcome)) {
      return outcome.then(
        (o) => this.#answer(envelope, o),
        (error: unknown) => this.#answer(envelope, unavailable(error)),
      );
    }
    this.#answer(envelope, outcome);
    return undefined;
  }

  #answer(envelope: PublishEnvelope, result: PublishOutcome): void {
    if (result.ok) this.#send({ type: 'ack', id: envelope.id }, envelope.topic);
    else if (result.closeCode !== undefined) this.#close(result.closeCode, result.message);
    else this.#sendError(result.code, result.message, envelope.topic, envelope.id);
  }

  /** No id, no dedup, no ack: a refusal is reported once as an `error` without `ref`. */
  #publishVolatile(envelope: VolatilePublishEnvelope): Maybe<void> {
    this.#settings.stats.volatileReceived++;
    const refused = this.#refusePublish(envelope.topic, 'vpub');
    const report = (outcome: PublishOutcome | null) => {
      if (outcome && !outcome.ok) this.#sendError(outcome.code, outcome.message, envelope.topic);
    };
    const proceed = (r: PublishOutcome | null): Maybe<void> => {
      if (r) return report(r);
      const delivered = this.#deliver(envelope, false);
      return isPromise(delivered) ? delivered.then(report) : report(delivered);
    };
    return isPromise(refused)
      ? refused.then(proceed, (error: unknown) => report(failed(error)))
      : proceed(refused);
  }
}
