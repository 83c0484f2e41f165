/**
 * The client's subscriptions and what arrives on them: the position reached on each topic (so a reconnect
 * resumes after it), duplicate replays dropped by sequence, resets reported, and every message's data run
 * through the app's schema before the app sees it. Validation may be async; delivery keeps arrival order.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Emitter } from '../emitter.ts';
import type { SubscribeEnvelope } from '../envelope.ts';
import { SwitchyardError } from '../errors.ts';
import { ValidationError } from './errors.ts';
import type { ClientEvents, ClientMessage, Subscription } from './types.ts';

/** The server's topic rule (1-256 characters), checked here so a bad topic never costs the connection. */
export const MAX_TOPIC_LENGTH = 256;
const MAX_PENDING_VALIDATIONS = 1000;

export function checkTopic(topic: string): SwitchyardError | undefined {
  if (typeof topic === 'string' && topic.length > 0 && topic.length <= MAX_TOPIC_LENGTH) return undefined;
  return new SwitchyardError('ERR_INVALID_ENVELOPE', `topic must be 1-${MAX_TOPIC_LENGTH} characters`);
}

interface TopicState {
  refs: number;
  lastSeq: number | undefined;
}

export interface TopicsHooks {
  /** A topic gained its first subscriber: tell the server, if connected. */
  readonly followed: (topic: string, envelope: SubscribeEnvelope) => void;
  /** A topic lost its last subscriber. */
  readonly unfollowed: (topic: string) => void;
}

export class Topics<In> {
  readonly #states = new Map<string, TopicState>();
  readonly #events: Emitter<ClientEvents<In>>;
  readonly #schema: StandardSchemaV1<unknown, In> | undefined;
  readonly #hooks: TopicsHooks;
  #validation: Promise<void> = Promise.resolve();
  #pendingValidations = 0;
  volatileReceived = 0;

  constructor(
    events: Emitter<ClientEvents<In>>,
    schema: StandardSchemaV1<unknown, In> | undefined,
    hooks: TopicsHooks,
  ) {
    this.#events = events;
    this.#schema = schema;
    this.#hooks = hooks;
  }

  subscribe(topic: string, since: number | undefined): Subscription {
    const invalid = checkTopic(topic);
    if (invalid) throw invalid;
    let state = this.#states.get(topic);
    if (!state) {
      state = { refs: 0, lastSeq: since };
      this.#states.set(topic, state);
      this.#hooks.followed(topic, this.#subscribeEnvelope(topic, state));
    }
    state.refs++;
    const topicState = state;
    let active = true;
    return {
      topic,
      get lastSeq() {
        return topicState.lastSeq;
      },
      unsubscribe: () => {
        if (!active) return;
        active = false;
        topicState.refs--;
        if (topicState.refs > 0 || this.#states.get(topic) !== topicState) return;
        this.#states.delete(topic);
        this.#hooks.unfollowed(topic);
      },
    };
  }

  /** What a new connection sends for every followed topic: resume after the last position seen. */
  *subscribeEnvelopes(): Generator<SubscribeEnvelope> {
    for (const [topic, state] of this.#states) yield this.#subscribeEnvelope(topic, state);
  }

  #subscribeEnvelope(topic: string, state: TopicState): SubscribeEnvelope {
    return state.lastSeq === undefined
      ? { type: 'sub', topic }
      : { type: 'sub', topic, since: state.lastSeq };
  }

  onMessage(topic: string, seq: number, data: unknown): void {
    const state = this.#states.get(topic);
    if (!state) return;
    // Replays after a reconnect or a rung switch overlap what was already seen: drop by sequence.
    if (state.lastSeq !== undefined && seq <= state.lastSeq) return;
    state.lastSeq = seq;
    this.#deliver(topic, seq, data);
  }

  onVolatile(topic: string, data: unknown): void {
    if (!this.#states.has(topic)) return;
    this.volatileReceived++;
    this.#deliver(topic, undefined, data);
  }

  onReset(topic: string, seq: number, reason: string): void {
    const state = this.#states.get(topic);
    if (!state) return;
    const hadPosition = state.lastSeq !== undefined;
    state.lastSeq = seq;
    // A first subscription's baseline is not news; a moved position is.
    if (hadPosition || reason !== 'subscribed') this.#events.emit('reset', { topic, seq, reason });
  }

  #deliver(topic: string, seq: number | undefined, data: unknown): void {
    const message = (value: In): ClientMessage<In> =>
      seq === undefined
        ? { topic, seq, data: value, reliable: false }
        : { topic, seq, data: value, reliable: true };
    const schema = this.#schema;
    if (!schema) {
      this.#events.emit('message', message(data as In));
      return;
    }
    let result: StandardSchemaV1.Result<In> | Promise<StandardSchemaV1.Result<In>>;
    try {
      result = schema['~standard'].validate(data);
    } catch (error) {
      this.#validationFailed(error);
      return;
    }
    const deliver = (r: StandardSchemaV1.Result<In>) => {
      if (r.issues) this.#events.emit('error', new ValidationError(topic, seq, r.issues));
      else this.#events.emit('message', message(r.value));
    };
    if (!(result instanceof Promise) && this.#pendingValidations === 0) {
      deliver(result);
      return;
    }
    // Async schemas: keep delivery in arrival order, with a bound on how many may wait.
    if (this.#pendingValidations >= MAX_PENDING_VALIDATIONS) {
      this.#events.emit(
        'error',
        new SwitchyardError(
          'ERR_BUFFER_FULL',
          `message ${topic}#${seq ?? 'unreliable'} dropped: too many pending validations`,
        ),
      );
      return;
    }
    this.#pendingValidations++;
    const pending = Promise.resolve(result);
    this.#validation = this.#validation
      .then(() => pending)
      .then(deliver, (error: unknown) => this.#validationFailed(error))
      .finally(() => {
        this.#pendingValidations--;
      });
  }

  #validationFailed(error: unknown): void {
    this.#events.emit(
      'error',
      error instanceof SwitchyardError
        ? error
        : new SwitchyardError('ERR_VALIDATION', (error as Error)?.message ?? String(error), { cause: error }),
    );
  }
}
