/**
 * The client's subscriptions and what arrives on them: the position reached on each topic (so a reconnect
 * resumes after it), duplicate replays dropped by sequence, resets reported, and every message's data run
 * through the app's schema before the app sees it. Validation may be async; delivery keeps arrival order.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Emitter } from '../emitter.ts';
import type { Envelope, SubscribeEnvelope, UnsubscribeEnvelope } from '../envelope.ts';
import { SwitchyardError } from '../errors.ts';
import { assertPresenceInfo } from '../presence.ts';
import { ValidationError } from './errors.ts';
import type { ClientEvents, ClientMessage, SubscribeOptions, Subscription } from './types.ts';

/** The server's topic rule (1-256 characters), checked here so a bad topic never costs the connection. */
export const MAX_TOPIC_LENGTH = 256;
const MAX_PENDING_VALIDATIONS = 1000;

export function assertTopic(topic: unknown): void {
  if (typeof topic !== 'string' || !topic || topic.length > MAX_TOPIC_LENGTH) {
    throw new SwitchyardError('ERR_INVALID_ENVELOPE', `topic must be 1-${MAX_TOPIC_LENGTH} characters`);
  }
}

interface TopicState {
  refs: number;
  lastSeq: number | undefined;
  /** The server's epoch for `lastSeq`: a resume sends it, so a topic that started over is a reset, not a gap. */
  epoch: string | undefined;
  /** A `sub` without a position went out on a link (answered or not). */
  asked: boolean;
  /**
   * It went out on an earlier link that was lost before the answer, and the next link's session is another one
   * (the old one expired): the server remembered where the subscription started in the old session only, so
   * what was published from then until the next answer is unknown, and that answer is reported as a reset. On
   * the same session the server answers with the remembered baseline and fills from it: nothing to report.
   */
  unanswered: boolean;
  /** Presence as the first subscription asked for it (later ones share the topic's one `sub`). */
  readonly presence: boolean | undefined;
  readonly info: SubscribeOptions['info'];
}

export class Topics<In> {
  readonly #states = new Map<string, TopicState>();
  readonly #events: Emitter<ClientEvents<In>>;
  readonly #schema: StandardSchemaV1<unknown, In> | undefined;
  /** Tells the server (when connected) that a topic gained its first or lost its last subscriber. */
  readonly #send: (envelope: SubscribeEnvelope | UnsubscribeEnvelope) => boolean;
  #validation: Promise<unknown> = Promise.resolve();
  #pendingValidations = 0;
  volatileReceived = 0;

  constructor(
    events: Emitter<ClientEvents<In>>,
    schema: StandardSchemaV1<unknown, In> | undefined,
    /** False when there is no link to send on (the next link sends every subscription anyway). */
    send: (envelope: SubscribeEnvelope | UnsubscribeEnvelope) => boolean,
  ) {
    this.#events = events;
    this.#schema = schema;
    this.#send = send;
  }

  subscribe(topic: string, options: SubscribeOptions = {}): Subscription {
    assertTopic(topic);
    if (options.info !== undefined) assertPresenceInfo(options.info);
    const since = options.since;
    let state = this.#states.get(topic);
    if (!state) {
      state = {
        refs: 0,
        lastSeq: since,
        epoch: since === undefined ? undefined : options.epoch,
        asked: false,
        unanswered: false,
        presence: options.presence || undefined,
        info: options.info,
      };
      this.#states.set(topic, state);
      state.asked = this.#send(this.#envelope(topic, state));
    }
    state.refs++;
    const s = state;
    let active = true;
    return {
      topic,
      get lastSeq() {
        return s.lastSeq;
      },
      get epoch() {
        return s.epoch;
      },
      unsubscribe: () => {
        if (!active) return;
        active = false;
        if (--s.refs || this.#states.get(topic) !== s) return;
        this.#states.delete(topic);
        this.#send({ type: 'unsub', topic });
      },
    };
  }

  /**
   * What a new connection sends for every followed topic: resume after the last position seen. `resumed`: the
   * connection's session is the one earlier subscriptions were asked on (welcome.resumed).
   */
  subscribeEnvelopes(resumed: boolean): SubscribeEnvelope[] {
    return [...this.#states].map(([topic, s]) => {
      if (s.lastSeq === undefined) {
        if (s.asked && !resumed) s.unanswered = true;
        s.asked = true;
      }
      return this.#envelope(topic, s);
    });
  }

  #envelope(topic: string, s: TopicState): SubscribeEnvelope {
    return { type: 'sub', topic, since: s.lastSeq, epoch: s.epoch, presence: s.presence, info: s.info };
  }

  /** Takes the envelopes that are about topics' messages: `msg`, `vmsg`, `reset`. */
  receive(envelope: Envelope): boolean {
    if (envelope.type === 'msg') this.onMessage(envelope.topic, envelope.seq, envelope.data);
    else if (envelope.type === 'vmsg') this.onVolatile(envelope.topic, envelope.data);
    else if (envelope.type === 'reset')
      this.onReset(envelope.topic, envelope.seq, envelope.reason, envelope.epoch);
    else return false;
    return true;
  }

  onMessage(topic: string, seq: number, data: unknown): void {
    const state = this.#states.get(topic);
    // Replays after a reconnect or a rung switch overlap what was already seen: drop by sequence.
    if (!state || seq <= (state.lastSeq ?? -1)) return;
    state.lastSeq = seq;
    this.#deliver(topic, seq, data);
  }

  onVolatile(topic: string, data: unknown): void {
    if (!this.#states.has(topic)) return;
    this.volatileReceived++;
    this.#deliver(topic, undefined, data);
  }

  onReset(topic: string, seq: number, reason: string, epoch: string | undefined): void {
    const state = this.#states.get(topic);
    if (!state) return;
    const hadPosition = state.lastSeq !== undefined;
    const unanswered = state.unanswered;
    state.lastSeq = seq;
    state.epoch = epoch;
    state.unanswered = false;
    // A first subscription's baseline is not news (on a later link of the same session too: the server
    // remembered it and fills from it); a moved position is, and so is a baseline from another session than the
    // one the subscription was asked on (what was published in between may be missing).
    if (hadPosition || unanswered || reason !== 'subscribed')
      this.#events.emit('reset', { topic, seq, reason });
  }

  #deliver(topic: string, seq: number | undefined, data: unknown): void {
    const emit = (value: unknown) =>
      this.#events.emit('message', {
        topic,
        seq,
        data: value,
        reliable: seq !== undefined,
      } as ClientMessage<In>);
    const schema = this.#schema;
    const settle = (result: StandardSchemaV1.Result<In>) => {
      if (result.issues) this.#events.emit('error', new ValidationError(topic, seq, result.issues));
      else emit(result.value);
    };
    let result: StandardSchemaV1.Result<In> | Promise<StandardSchemaV1.Result<In>>;
    try {
      result = schema ? schema['~standard'].validate(data) : { value: data as In };
    } catch (error) {
      this.#failed(error);
      return;
    }
    if (!(result instanceof Promise) && !this.#pendingValidations) settle(result);
    // Async schemas: keep delivery in arrival order, with a bound on how many may wait.
    else if (this.#pendingValidations >= MAX_PENDING_VALIDATIONS) {
      this.#events.emit(
        'error',
        new SwitchyardError(
          'ERR_BUFFER_FULL',
          `message ${topic}#${seq ?? 'unreliable'} dropped: too many pending validations`,
        ),
      );
    } else {
      this.#pendingValidations++;
      this.#validation = this.#validation
        .then(() => result)
        .then(settle, (error: unknown) => this.#failed(error))
        .finally(() => this.#pendingValidations--);
    }
  }

  #failed(error: unknown): void {
    this.#events.emit(
      'error',
      error instanceof SwitchyardError
        ? error
        : new SwitchyardError('ERR_VALIDATION', (error as Error)?.message ?? String(error), { cause: error }),
    );
  }
}
