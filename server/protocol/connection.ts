/**
 * One client connection speaking the switchyard protocol, on any rung. Everything about a topic (sub, unsub,
 * pub, vpub upstream; msg, reset, ack, topic errors downstream) travels on that topic's lane, so a topic's
 * traffic is ordered with itself and independent of other topics where the rung has independent streams;
 * connection-level traffic (hello, welcome, ping, pong) stays on the default channel. Incoming work runs on
 * one chain per channel the client used: in order within a topic, never queued behind another topic.
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
import { payloadByteLength } from '../../src/utf8.ts';
import type { HubEvent, HubSubscription } from '../hub/hub.ts';
import type { ProtocolContext, Settings } from './index.ts';
import { Outgoing } from './outgoing.ts';
import type { PublishOutcome, Session } from './sessions.ts';

export const MAX_TOPIC_LENGTH = 256;
const MAX_EARLY_MESSAGES = 64;

interface Encoded {
  readonly payload: Payload;
  readonly bytes: number;
}

// A hub hands one event object to every local subscriber: encode it once per codec, not once per subscriber.
const encodedEvents = { json: new WeakMap<HubEvent, Encoded>(), msgpack: new WeakMap<HubEvent, Encoded>() };

function encodeEvent(codec: Codec, event: HubEvent): Encoded {
  const cache = encodedEvents[codec.name];
  let encoded = cache.get(event);
  if (!encoded) {
    const envelope: Envelope =
      event.type === 'msg'
        ? { type: 'msg', topic: event.topic, seq: event.seq, data: event.data }
        : event.type === 'volatile'
          ? { type: 'vmsg', topic: event.topic, data: event.data }
          : { type: 'reset', topic: event.topic, seq: event.seq, reason: event.reason };
    const payload = codec.encode(envelope);
    encoded = { payload, bytes: payloadByteLength(payload) };
    cache.set(event, encoded);
  }
  return encoded;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

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
  #lanes = new LaneMap(0);
  readonly #subscriptions = new Map<string, Promise<HubSubscription | undefined>>();
  readonly #out: Outgoing;
  /** Incoming work that must keep its order, one chain per channel the client sends on. */
  readonly #chains = new Map<string, Promise<void>>();
  #pendingIncoming = 0;
  #lastSeen = Date.now();
  /** Messages that arrived while hello was being authenticated. */
  readonly #early: { payload: Payload; channel: string }[] = [];
  readonly #timers: ReturnType<typeof setTimeout>[] = [];

  constructor(connection: ServerConnection, settings: Settings) {
    this.#connection = connection;
    this.#settings = settings;
    this.#out = new Outgoing(connection, {
      maxMessages: settings.maxOutMessages,
      maxBytes: settings.maxOutBytes,
    });
    connection.on('message', (event) => this.#onPayload(event.data, event.channel));
    connection.on('close', () => this.dispose());
    const helloTimer = setTimeout(() => {
      if (!this.#hello) this.#close(CloseCode.HeartbeatTimeout, 'no hello within the allowed time');
    }, settings.helloTimeoutMs);
    this.#timers.push(helloTimer);
    // The client pings every heartbeatMs; silence for over two intervals (plus slack for one late ping) means a dead path.
    const liveness = setInterval(
      () => {
        if (Date.now() - this.#lastSeen > settings.heartbeatMs * 2.5) {
          this.#close(
            CloseCode.HeartbeatTimeout,
            'no message from the client within two heartbeat intervals',
          );
        }
      },
      Math.max(10, Math.floor(settings.heartbeatMs / 2)),
    );
    this.#timers.push(liveness);
    for (const t of this.#timers) (t as { unref?: () => void }).unref?.();
    if (connection.state === 'closed') this.dispose();
  }

  /** A newer connection of the same session took this one's place. */
  replace(): void {
    this.#close(CloseCode.Replaced, 'a newer connection of this session took over');
  }

  dispose(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#settings.live.delete(this);
    for (const pending of this.#subscriptions.values()) void pending.then((s) => s?.unsubscribe());
    this.#subscriptions.clear();
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

  /** Queues on `topic`'s lane (the default channel for connection-level envelopes). */
  #send(envelope: Envelope, topic?: string): void {
    if (this.#closed) return;
    const payload = this.#codec.encode(envelope);
    this.#enqueueOut(this.#lanes.channelFor(topic), payload, payloadByteLength(payload));
  }

  #enqueueOut(channel: string, payload: Payload, bytes: number): void {
    if (this.#out.push(channel, payload, bytes)) return;
    this.#settings.stats.slowConsumers++;
    this.#close(CloseCode.SlowConsumer, 'outgoing queue full: the client does not read fast enough');
  }

  #onHubEvent(event: HubEvent): void {
    if (this.#closed) return;
    const { payload, bytes } = encodeEvent(this.#codec, event);
    if (event.type === 'volatile') this.#sendVolatile(event.topic, payload, bytes);
    else this.#enqueueOut(this.#lanes.channelFor(event.topic), payload, bytes);
  }

  /**
   * Unreliable delivery: a datagram where the rung has them and it fits (the rung drops it under pressure,
   * it never queues behind streams); else straight onto the topic's lane, ahead of queued reliable traffic
   * (allowed: unreliable messages carry no order with respect to anything), unless the client is backed up,
   * in which case it is dropped rather than queued.
   */
  #sendVolatile(topic: string, payload: Payload, bytes: number): void {
    const stats = this.#settings.stats;
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
    const { session, resumed } = this.#settings.sessions.attach(hello.session, this);
    this.#session = session;
    this.#hello = hello;
    this.#helloPending = false;
    // Lanes only where streams are independent: on one ordered connection they would only cost bytes.
    this.#lanes = new LaneMap(
      this.#connection.capabilities.independentStreams
        ? Math.min(hello.lanes ?? DEFAULT_MAX_LANES, this.#settings.maxLanes)
        : 0,
    );
    this.#settings.live.add(this);
    this.#send({
      type: 'welcome',
      session: session.id,
      heartbeatMs: this.#settings.heartbeatMs,
      maxMessageBytes: this.#settings.maxMessageBytes,
      resumed,
    });
    for (const early of this.#early.splice(0)) this.#onPayload(early.payload, early.channel);
  }

  #enqueue(channel: string, envelope: Envelope): void {
    if (this.#pendingIncoming >= this.#settings.maxPendingIncoming) {
      this.#close(CloseCode.TryAgainLater, 'too many messages waiting to be processed');
      return;
    }
    this.#pendingIncoming++;
    const previous = this.#chains.get(channel) ?? Promise.resolve();
    const next: Promise<void> = previous
      .then(() => (this.#closed ? undefined : this.#process(envelope)))
      .catch(() => undefined)
      .then(() => {
        this.#pendingIncoming--;
        if (this.#chains.get(channel) === next) this.#chains.delete(channel);
      });
    this.#chains.set(channel, next);
  }

  #context(): ProtocolContext {
    return {
      connection: this.#connection,
      session: this.#session as Session,
      hello: this.#hello as HelloEnvelope,
    };
  }

  async #process(envelope: Envelope): Promise<void> {
    switch (envelope.type) {
      case 'sub':
        return this.#subscribe(envelope.topic, envelope.since);
      case 'unsub': {
        const pending = this.#subscriptions.get(envelope.topic);
        this.#subscriptions.delete(envelope.topic);
        (await pending)?.unsubscribe();
        return;
      }
      case 'pub':
        return this.#publish(envelope);
      case 'vpub':
        return this.#publishVolatile(envelope);
      default:
        return;
    }
  }

  async #subscribe(topic: string, since: number | undefined): Promise<void> {
    if (!validTopic(topic)) {
      this.#sendError('ERR_INVALID_TOPIC', `sub.topic: expected 1-${MAX_TOPIC_LENGTH} characters`);
      return;
    }
    const previous = this.#subscriptions.get(topic);
    if (!previous && this.#subscriptions.size >= this.#settings.maxSubscriptions) {
      this.#sendError(
        'ERR_TOO_MANY_SUBSCRIPTIONS',
        `at most ${this.#settings.maxSubscriptions} topics per connection`,
        topic,
      );
      return;
    }
    const refusal = await this.#settings.authorize?.('sub', topic, this.#context());
    if (refusal) {
      this.#sendError(refusal.code, refusal.message, topic);
      return;
    }
    if (this.#closed) return;
    this.#subscriptions.delete(topic);
    (await previous)?.unsubscribe();
    const pending = this.#settings.hub
      .subscribe(topic, since, (event) => this.#onHubEvent(event))
      .then(
        (subscription) => {
          // Unsubscribed or closed while the hub was answering: let go at once.
          if (this.#closed || this.#subscriptions.get(topic) !== pending) {
            subscription.unsubscribe();
            return undefined;
          }
          return subscription;
        },
        (error: unknown) => {
          this.#sendError('ERR_HUB', `subscribe ${topic}: ${describeError(error)}`, topic);
          return undefined;
        },
      );
    this.#subscriptions.set(topic, pending);
    await pending;
  }

  /** The topic rule and the app's permission, for `pub` and `vpub` alike; null when allowed. */
  async #refusePublish(topic: string | undefined, what: string): Promise<PublishOutcome | null> {
    if (topic === undefined) return null;
    if (!validTopic(topic)) {
      return {
        ok: false,
        code: 'ERR_INVALID_TOPIC',
        message: `${what}.topic: expected 1-${MAX_TOPIC_LENGTH} characters`,
      };
    }
    const refusal = await this.#settings.authorize?.('pub', topic, this.#context());
    return refusal ? { ok: false, code: refusal.code, message: refusal.message } : null;
  }

  async #publish(envelope: PublishEnvelope): Promise<void> {
    const session = this.#session as Session;
    const context = this.#context();
    const { outcome, duplicate } = session.dedup(envelope.id, async (): Promise<PublishOutcome> => {
      this.#settings.stats.applied++;
      try {
        const refused = await this.#refusePublish(envelope.topic, 'pub');
        if (refused) return refused;
        await this.#settings.onPublish({
          ...context,
          reliable: true,
          id: envelope.id,
          topic: envelope.topic,
          data: envelope.data,
        });
        return { ok: true };
      } catch (error) {
        const code = isSwitchyardError(error) ? error.code : 'ERR_PUBLISH_FAILED';
        return { ok: false, code, message: describeError(error) };
      }
    });
    if (duplicate) this.#settings.stats.duplicates++;
    const result = await outcome;
    if (result.ok) this.#send({ type: 'ack', id: envelope.id }, envelope.topic);
    else this.#sendError(result.code, result.message, envelope.topic, envelope.id);
  }

  /** No id, no dedup, no ack: a refusal is reported once as an `error` without `ref`. */
  async #publishVolatile(envelope: VolatilePublishEnvelope): Promise<void> {
    this.#settings.stats.volatileReceived++;
    let failure: PublishOutcome | null;
    try {
      failure = await this.#refusePublish(envelope.topic, 'vpub');
      if (!failure) {
        await this.#settings.onPublish({
          ...this.#context(),
          reliable: false,
          id: undefined,
          topic: envelope.topic,
          data: envelope.data,
        });
      }
    } catch (error) {
      failure = {
        ok: false,
        code: isSwitchyardError(error) ? error.code : 'ERR_PUBLISH_FAILED',
        message: describeError(error),
      };
    }
    if (failure && !failure.ok) this.#sendError(failure.code, failure.message, envelope.topic);
  }
}
