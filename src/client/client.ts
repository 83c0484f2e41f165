/**
 * The production client: negotiates, climbs down the ladder of rungs until one passes an application-level
 * hello/welcome + ping/pong, keeps it alive with heartbeats, reconnects with backoff, resumes topics from
 * their last sequence and re-sends unacknowledged publishes (the server dedups by message id), and climbs
 * back up in the background when a better rung becomes reachable. Every transport it opens is wrapped in a
 * `Link` tagged with an attempt id; events from a link that is no longer current or probing are ignored.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { CloseCode, closeCodeInfo } from '../close-codes.ts';
import { type Codec, jsonCodec } from '../codec.ts';
import { Emitter } from '../emitter.ts';
import type { Envelope, WelcomeEnvelope } from '../envelope.ts';
import { isSwitchyardError, SwitchyardError } from '../errors.ts';
import { type OfferedTransport, parseNegotiateResponse } from '../negotiate.ts';
import type { CloseEvent, Payload, TransportKind } from '../transport.ts';
import { DEFAULT_LIMITS } from '../transport.ts';
import { payloadByteLength } from '../utf8.ts';
import { Backoff, type BackoffOptions } from './backoff.ts';
import { Heartbeat } from './heartbeat.ts';
import { planLadder, rungsAbove } from './ladder.ts';
import { AttemptError, type CloseInfo, decodeWith, describeClose, type Link, openLink } from './link.ts';
import { Outbox, type OutboxOptions } from './outbox.ts';
import { defaultRungMemory, type RungMemory } from './rung-memory.ts';
import type { RungFactories } from './rungs.ts';

export type ClientState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

export interface ClientOptions<In = unknown> {
  /** Base URL of the server; the client GETs `${url}/rt/negotiate`. */
  readonly url: string;
  /** Kind -> factory (`browserTransports` or `nodeTransports` from transports/). */
  readonly transports: RungFactories;
  /** Restricts and reorders the ladder (default: webtransport, websocket, sse). */
  readonly order?: readonly TransportKind[];
  /** Validates the `data` of every incoming message; a failure becomes an `error` event (ERR_VALIDATION). */
  readonly messages?: StandardSchemaV1<unknown, In>;
  /** Called before every connection round (and background climb); sent in `hello`. */
  readonly token?: () => string | Promise<string>;
  /**
   * Envelope codec: `jsonCodec` (default, text frames) or `msgpackCodec` from src/codec.ts (binary frames;
   * the server answers in the client's codec). Injected so that JSON-only bundles leave MessagePack out.
   */
  readonly codec?: Codec;
  /** Per-rung budget for open + hello/welcome + ping/pong, first round; doubles per failed round up to 8x. */
  readonly connectTimeoutMs?: Partial<Record<TransportKind, number>>;
  readonly negotiateTimeoutMs?: number;
  readonly backoff?: BackoffOptions;
  /** A shorter heartbeat than the server's (a dead peer is detected within two intervals); never longer. */
  readonly heartbeatMs?: number;
  /** Upstream buffer bounds and overflow policy (see outbox.ts). */
  readonly buffer?: OutboxOptions;
  /** Remember the working rung per origin (default: on, 10 min TTL, localStorage or memory). */
  readonly rememberRung?: false | { readonly ttlMs?: number; readonly memory?: RungMemory };
  /**
   * Background climb to a better rung (default: on). First probe `afterMs` after connecting below the top
   * (default 10 s), then doubling up to `maxMs` (default 5 min); each probe gets `timeoutMs` (default 5 s).
   */
  readonly climb?:
    | false
    | { readonly afterMs?: number; readonly maxMs?: number; readonly timeoutMs?: number };
  /** Connect at creation (default true); otherwise call `connect()`. */
  readonly autoConnect?: boolean;
  /** Extra headers where the runtime allows them (Node): negotiate request and rungs. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Injected fetch (default globalThis.fetch). */
  readonly fetch?: (input: string, init?: RequestInit) => Promise<Response>;
}

export interface ClientMessage<In = unknown> {
  readonly topic: string;
  readonly seq: number;
  readonly data: In;
}

export interface ClientReset {
  readonly topic: string;
  /** The topic's new position: the next message has a higher seq. Re-sync the topic's state as of now. */
  readonly seq: number;
  readonly reason: string;
}

/** One try of one rung (or of `/rt/negotiate`), for logs, metrics and tests. */
export interface AttemptEvent {
  /** Increases with every attempt; events of superseded attempts are never acted upon. */
  readonly attempt: number;
  readonly kind: TransportKind | 'negotiate';
  /** `connect`: the foreground ladder; `climb`: a background probe of a better rung. */
  readonly purpose: 'connect' | 'climb';
  readonly ok: boolean;
  readonly elapsedMs: number;
  readonly error?: string;
}

export interface ClientEvents<In = unknown> {
  state: ClientState;
  attempt: AttemptEvent;
  /** The rung in use changed (null while not connected). */
  rung: TransportKind | null;
  message: ClientMessage<In>;
  reset: ClientReset;
  error: SwitchyardError;
}

/** An incoming message whose data failed the `messages` schema. */
export class ValidationError extends SwitchyardError {
  readonly topic: string;
  readonly seq: number;
  readonly issues: readonly StandardSchemaV1.Issue[];
  constructor(topic: string, seq: number, issues: readonly StandardSchemaV1.Issue[]) {
    const first = issues[0];
    const path = first?.path?.map((p) => (typeof p === 'object' ? String(p.key) : String(p))).join('.');
    super(
      'ERR_VALIDATION',
      `message ${topic}#${seq} failed validation: ${path ? `${path}: ` : ''}${first?.message ?? 'invalid'}`,
    );
    this.topic = topic;
    this.seq = seq;
    this.issues = issues;
  }
}

/** The server refused one operation (e.g. a publish); `serverCode` is the code it sent. */
export class RejectedError extends SwitchyardError {
  readonly serverCode: string;
  constructor(serverCode: string, message: string) {
    super('ERR_REJECTED', `${serverCode}: ${message}`);
    this.serverCode = serverCode;
  }
}

export interface Subscription {
  readonly topic: string;
  /** Highest sequence delivered (or the position set by a reset); undefined before the first. */
  readonly lastSeq: number | undefined;
  unsubscribe(): void;
}

type TypeOf<In> = In extends { readonly type: infer T extends string } ? T : never;

const DEFAULT_TIMEOUTS: Record<TransportKind, number> = { webtransport: 1000, websocket: 1200, sse: 4000 };
const MAX_PENDING_VALIDATIONS = 1000;
const OFFERS_TTL_MS = 5 * 60_000;
/** Close codes a server sends to many clients at once. */
const SERVER_INITIATED: ReadonlySet<number> = new Set([
  CloseCode.GoingAway,
  CloseCode.ServiceRestart,
  CloseCode.TryAgainLater,
  CloseCode.InternalError,
  CloseCode.SlowConsumer,
  CloseCode.RateLimited,
  CloseCode.TooManyConnections,
]);

interface TopicState {
  refs: number;
  lastSeq: number | undefined;
}

/** The server's topic rule (1-256 characters), checked here so a bad topic never costs the connection. */
export const MAX_TOPIC_LENGTH = 256;
function checkTopic(topic: string): SwitchyardError | undefined {
  if (typeof topic === 'string' && topic.length > 0 && topic.length <= MAX_TOPIC_LENGTH) return undefined;
  return new SwitchyardError('ERR_INVALID_ENVELOPE', `topic must be 1-${MAX_TOPIC_LENGTH} characters`);
}

function randomId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}

export class Client<In = unknown> {
  readonly #options: ClientOptions<In>;
  readonly #events = new Emitter<ClientEvents<In>>();
  readonly #codec: Codec;
  readonly #backoff: Backoff;
  readonly #outbox: Outbox;
  readonly #memory: RungMemory | undefined;
  readonly #origin: string;
  readonly #topics = new Map<string, TopicState>();

  #state: ClientState = 'disconnected';
  #rung: TransportKind | null = null;
  #closeInfo: CloseInfo | undefined;
  #running = false;
  #stopped = false;
  #everConnected = false;
  #attemptSeq = 0;
  #session: string | undefined;
  #current: Link | undefined;
  #probe: Link | undefined;
  readonly #handshaking = new Set<Link>();
  #ladder: OfferedTransport[] = [];
  #offers: { offers: OfferedTransport[]; at: number } | undefined;
  #maxMessageBytes = DEFAULT_LIMITS.maxMessageBytes;
  #heartbeat: Heartbeat | undefined;
  #climbTimer: ReturnType<typeof setTimeout> | undefined;
  #climbDelay = 0;
  #wake: (() => void) | undefined;
  #validation: Promise<void> = Promise.resolve();
  #pendingValidations = 0;
  readonly #detachNetwork: (() => void) | undefined;

  constructor(options: ClientOptions<In>) {
    this.#options = options;
    this.#codec = options.codec ?? jsonCodec;
    this.#backoff = new Backoff(options.backoff);
    this.#outbox = new Outbox(options.buffer);
    this.#origin = new URL(options.url).origin;
    this.#memory =
      options.rememberRung === false
        ? undefined
        : (options.rememberRung?.memory ?? defaultRungMemory(options.rememberRung?.ttlMs ?? 10 * 60_000));
    this.#climbDelay = this.#climbAfter();
    this.#detachNetwork = this.#watchNetwork();
    if (options.autoConnect !== false) void this.connect().catch(() => undefined);
  }

  get state(): ClientState {
    return this.#state;
  }

  /** The rung in use, or null while not connected. */
  get rung(): TransportKind | null {
    return this.#rung;
  }

  /** The server session (stable across reconnects while the server keeps it). */
  get session(): string | undefined {
    return this.#session;
  }

  /** Why the last connection ended (or why the client gave up). */
  get closeInfo(): CloseInfo | undefined {
    return this.#closeInfo;
  }

  /** Publishes waiting for an ack (sent or not). */
  get pending(): number {
    return this.#outbox.size;
  }

  on<K extends keyof ClientEvents<In>>(type: K, listener: (event: ClientEvents<In>[K]) => void): () => void {
    return this.#events.on(type, listener);
  }

  /** Handles messages of one `type` of a discriminated-union schema (`{ type: 'chat', ... } | ...`). */
  handle<T extends TypeOf<In>>(
    type: T,
    handler: (data: Extract<In, { readonly type: T }>, message: ClientMessage<In>) => void,
  ): () => void {
    return this.#events.on('message', (message) => {
      const data = message.data as { type?: unknown };
      if (typeof data === 'object' && data !== null && data.type === type) {
        handler(message.data as Extract<In, { readonly type: T }>, message);
      }
    });
  }

  /**
   * Starts connecting (idempotent: a second call while connecting or connected opens nothing new).
   * Resolves when connected; rejects with ERR_DISCONNECTED when the client gives up or is closed.
   */
  connect(): Promise<void> {
    this.#stopped = false;
    if (this.#state === 'connected') return Promise.resolve();
    const result = new Promise<void>((resolve, reject) => {
      const off = this.#events.on('state', (state) => {
        if (state === 'connected') {
          off();
          resolve();
        } else if (state === 'disconnected') {
          off();
          reject(
            new SwitchyardError('ERR_DISCONNECTED', this.#closeInfo?.why ?? 'disconnected', {
              closeCode: this.#closeInfo?.code,
            }),
          );
        }
      });
    });
    if (!this.#running) {
      if (this.#state === 'disconnected') this.#backoff.reset();
      void this.#run();
    }
    return result;
  }

  /** Follows a topic; after a reconnect it resumes after the last sequence seen (or reports a `reset`). */
  subscribe(topic: string, options: { since?: number } = {}): Subscription {
    const invalid = checkTopic(topic);
    if (invalid) throw invalid;
    let state = this.#topics.get(topic);
    if (!state) {
      state = { refs: 0, lastSeq: options.since };
      this.#topics.set(topic, state);
      if (this.#current) this.#sendSub(this.#current, topic, state);
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
        if (topicState.refs > 0 || this.#topics.get(topic) !== topicState) return;
        this.#topics.delete(topic);
        if (this.#current) this.#sendOn(this.#current, { type: 'unsub', topic });
      },
    };
  }

  /**
   * Sends `data` (to `topic`'s subscribers, with the default server handler). At-least-once: resolves when
   * the server acknowledged it; kept in the bounded buffer while offline and re-sent after a reconnect
   * under the same id, which the server dedups. Rejects with ERR_BUFFER_FULL (policy), ERR_MESSAGE_TOO_BIG,
   * ERR_REJECTED (the server refused it) or ERR_DISCONNECTED (closed or gave up).
   */
  publish(topic: string | undefined, data: unknown): Promise<void> {
    if (this.#stopped && this.#state === 'disconnected') {
      return Promise.reject(new SwitchyardError('ERR_DISCONNECTED', 'client is closed'));
    }
    const invalid = topic === undefined ? undefined : checkTopic(topic);
    if (invalid) return Promise.reject(invalid);
    // These would leave `data` out of the envelope, which the server answers with BadEnvelope (fatal).
    if (data === undefined || typeof data === 'function' || typeof data === 'symbol') {
      return Promise.reject(
        new SwitchyardError('ERR_INVALID_ENVELOPE', `publish: data cannot be ${typeof data} (use null)`),
      );
    }
    const id = randomId();
    let payload: Payload;
    try {
      payload = this.#codec.encode(
        topic === undefined ? { type: 'pub', id, data } : { type: 'pub', id, topic, data },
      );
    } catch (cause) {
      return Promise.reject(
        new SwitchyardError('ERR_INVALID_ENVELOPE', 'data cannot be encoded by the codec', { cause }),
      );
    }
    const bytes = payloadByteLength(payload);
    if (bytes > this.#maxMessageBytes) {
      return Promise.reject(
        new SwitchyardError(
          'ERR_MESSAGE_TOO_BIG',
          `message of ${bytes} bytes exceeds the server's limit of ${this.#maxMessageBytes}`,
          { closeCode: CloseCode.MessageTooBig },
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.#outbox.add({ id, payload, bytes, resolve, reject });
      if (this.#current) this.#sendRaw(this.#current, payload);
    });
  }

  /** Closes for good (until `connect()` is called again); pending publishes reject with ERR_DISCONNECTED. */
  close(): void {
    this.#stopped = true;
    this.#closeInfo = describeClose(CloseCode.Normal, 'closed by the application');
    this.#teardown(CloseCode.Normal, 'client closed');
    this.#outbox.rejectAll(new SwitchyardError('ERR_DISCONNECTED', 'client closed'));
    this.#setState('disconnected');
    this.#wake?.();
  }

  /** Also removes the online/offline listeners (browsers). */
  dispose(): void {
    this.close();
    this.#detachNetwork?.();
    this.#events.removeAll();
  }

  // ---- connection loop -------------------------------------------------------------------------------

  async #run(firstDelayMs = 0): Promise<void> {
    this.#running = true;
    let delay = firstDelayMs;
    try {
      while (!this.#stopped) {
        this.#setState(this.#everConnected ? 'reconnecting' : 'connecting');
        if (delay > 0) await this.#sleep(delay);
        if (this.#isOffline()) await this.#sleep(this.#backoff.maxMs);
        if (this.#stopped) return;
        const outcome = await this.#round();
        if (outcome === 'connected' || this.#stopped) return;
        if (outcome === 'fatal') return;
        delay = this.#backoff.next();
        if (this.#backoff.exhausted) {
          this.#giveUp(
            describeClose(
              this.#closeInfo?.code ?? CloseCode.Abnormal,
              `gave up after ${this.#backoff.attempt} failed attempts`,
            ),
          );
          return;
        }
      }
    } finally {
      this.#running = false;
      // connect() called while this loop was giving up (e.g. from a 'disconnected' listener): run again.
      if (!this.#stopped && !this.#current && this.#state === 'disconnected') void this.#run();
    }
  }

  /** One pass over the ladder: negotiate, then each rung in turn. */
  async #round(): Promise<'connected' | 'failed' | 'fatal'> {
    const outcome = await this.#roundOnce();
    // A failed round may mean the server changed (restart with other rungs): negotiate again next time.
    if (outcome !== 'connected') this.#offers = undefined;
    return outcome;
  }

  async #roundOnce(): Promise<'connected' | 'failed' | 'fatal'> {
    let offers: OfferedTransport[];
    const attempt = ++this.#attemptSeq;
    const started = Date.now();
    try {
      // Reconnects reuse what the server said a moment ago: one round trip less, and no waiting on a
      // pooled keep-alive HTTP connection that died with the path the heartbeat just gave up on.
      if (this.#offers && Date.now() - this.#offers.at < OFFERS_TTL_MS) {
        offers = this.#offers.offers;
      } else {
        const negotiated = await this.#negotiate();
        offers = negotiated.transports;
        this.#maxMessageBytes = negotiated.maxMessageBytes;
        this.#offers = { offers, at: Date.now() };
        this.#reportAttempt(attempt, 'negotiate', 'connect', started);
      }
    } catch (error) {
      const message = (error as Error).message;
      this.#reportAttempt(attempt, 'negotiate', 'connect', started, message);
      if (error instanceof AttemptError && error.close?.retry === 'never') {
        this.#giveUp(error.close);
        return 'fatal';
      }
      this.#closeInfo = describeClose(CloseCode.Abnormal, message);
      return 'failed';
    }
    const { ladder, attempts } = planLadder({
      offers,
      available: Object.keys(this.#options.transports) as TransportKind[],
      ...(this.#options.order ? { order: this.#options.order } : {}),
      ...(this.#memory?.get(this.#origin) ? { remembered: this.#memory.get(this.#origin) } : {}),
    });
    this.#ladder = ladder;
    if (attempts.length === 0) {
      this.#closeInfo = describeClose(CloseCode.Abnormal, 'no rung offered by the server is available here');
      return 'failed';
    }
    let token: string | undefined;
    try {
      token = await this.#options.token?.();
    } catch (error) {
      this.#emitError(error, 'ERR_UNAUTHORIZED');
      return 'failed';
    }
    const scale = 2 ** Math.min(this.#backoff.attempt, 3);
    for (const offer of attempts) {
      if (this.#stopped) return 'failed';
      const timeout = (this.#options.connectTimeoutMs?.[offer.kind] ?? DEFAULT_TIMEOUTS[offer.kind]) * scale;
      try {
        const link = await this.#handshake(offer, timeout, token, 'connect');
        if (this.#stopped) {
          link.retire(CloseCode.Normal, 'client closed');
          return 'failed';
        }
        if (this.#activate(link)) return 'connected';
      } catch (error) {
        const close = error instanceof AttemptError ? error.close : undefined;
        this.#closeInfo = close ?? describeClose(CloseCode.Abnormal, (error as Error).message);
        if (close?.retry === 'never') {
          this.#giveUp(close);
          return 'fatal';
        }
        // The rung worked and the server refused the token: a lower rung would refuse the same token.
        // End the round so that the next one fetches a fresh token.
        if (close?.code === CloseCode.TokenExpired) return 'failed';
      }
    }
    return 'failed';
  }

  async #negotiate() {
    const fetchImpl = this.#options.fetch ?? globalThis.fetch.bind(globalThis);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#options.negotiateTimeoutMs ?? 3000);
    try {
      const response = await fetchImpl(`${this.#options.url.replace(/\/$/, '')}/rt/negotiate`, {
        signal: controller.signal,
        headers: { accept: 'application/json', ...this.#options.headers },
      });
      let body: unknown;
      try {
        body = await response.json();
      } catch {
        body = undefined;
      }
      if (!response.ok) {
        const closeCode = (body as { closeCode?: unknown } | undefined)?.closeCode;
        const message = (body as { message?: unknown } | undefined)?.message;
        const text = `negotiate: HTTP ${response.status}${typeof message === 'string' ? ` (${message})` : ''}`;
        throw new AttemptError(
          text,
          typeof closeCode === 'number' ? describeClose(closeCode, text) : undefined,
        );
      }
      return parseNegotiateResponse(
        body,
        response.url || `${this.#options.url.replace(/\/$/, '')}/rt/negotiate`,
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** Opens one rung and resolves once hello/welcome and one ping/pong went through it within `timeoutMs`. */
  #handshake(
    offer: OfferedTransport,
    timeoutMs: number,
    token: string | undefined,
    purpose: AttemptEvent['purpose'],
    onLink?: (link: Link) => void,
  ): Promise<Link> {
    const attempt = ++this.#attemptSeq;
    const started = Date.now();
    const factory = this.#options.transports[offer.kind];
    const ready = factory
      ? openLink(
          {
            factory,
            offer,
            attempt,
            timeoutMs,
            codec: this.#codec,
            maxMessageBytes: this.#maxMessageBytes,
            token,
            session: this.#session,
            headers: this.#options.headers,
          },
          (link) => {
            this.#handshaking.add(link);
            onLink?.(link);
          },
        )
      : Promise.reject(new AttemptError(`no factory for ${offer.kind}`, undefined));
    ready.then(
      (link) => this.#handshaking.delete(link),
      () => {
        for (const link of this.#handshaking) if (link.attempt === attempt) this.#handshaking.delete(link);
      },
    );
    ready.then(
      () => this.#reportAttempt(attempt, offer.kind, purpose, started),
      (error: unknown) =>
        this.#reportAttempt(attempt, offer.kind, purpose, started, (error as Error).message),
    );
    return ready;
  }

  #reportAttempt(
    attempt: number,
    kind: AttemptEvent['kind'],
    purpose: AttemptEvent['purpose'],
    started: number,
    error?: string,
  ): void {
    this.#events.emit('attempt', {
      attempt,
      kind,
      purpose,
      ok: error === undefined,
      elapsedMs: Date.now() - started,
      ...(error !== undefined ? { error } : {}),
    });
  }

  /** Makes a link that passed its handshake the current one; false if it died in the meantime. */
  #activate(link: Link): boolean {
    if (link.phase !== 'handshake') return false;
    const welcome = link.welcome as WelcomeEnvelope;
    link.phase = 'active';
    link.onActiveMessage = (payload) => this.#onActiveMessage(link, payload);
    link.onActiveClose = (event) => this.#onActiveClose(link, event);
    this.#current = link;
    this.#session = welcome.session;
    this.#maxMessageBytes = welcome.maxMessageBytes;
    this.#everConnected = true;
    this.#backoff.reset();
    this.#memory?.set(this.#origin, link.kind);
    // Never slower than the server expects: it closes connections silent for 2.5 of its intervals.
    this.#startHeartbeat(Math.min(this.#options.heartbeatMs ?? welcome.heartbeatMs, welcome.heartbeatMs));
    for (const [topic, state] of this.#topics) this.#sendSub(link, topic, state);
    for (const entry of this.#outbox.entries()) this.#sendRaw(link, entry.payload);
    this.#setRung(link.kind);
    this.#setState('connected');
    this.#scheduleClimb();
    return true;
  }

  // ---- the active link -------------------------------------------------------------------------------

  #onActiveMessage(link: Link, payload: Payload): void {
    if (link !== this.#current) return;
    let envelope: Envelope;
    try {
      envelope = decodeWith(this.#codec, payload);
    } catch (error) {
      // A server that speaks garbage may be one bad node: report it, drop this connection, try again.
      this.#emitError(error, 'ERR_INVALID_ENVELOPE');
      this.#lose(
        link,
        describeClose(CloseCode.Abnormal, 'invalid envelope from the server'),
        CloseCode.BadEnvelope,
      );
      return;
    }
    switch (envelope.type) {
      case 'pong':
        this.#heartbeat?.pong(envelope.id);
        return;
      case 'msg':
        this.#onMsg(envelope.topic, envelope.seq, envelope.data);
        return;
      case 'reset': {
        const state = this.#topics.get(envelope.topic);
        if (!state) return;
        const hadPosition = state.lastSeq !== undefined;
        state.lastSeq = envelope.seq;
        if (hadPosition || envelope.reason !== 'subscribed') {
          this.#events.emit('reset', { topic: envelope.topic, seq: envelope.seq, reason: envelope.reason });
        }
        return;
      }
      case 'ack':
        this.#outbox.settle(envelope.id)?.resolve();
        return;
      case 'error': {
        const error = new RejectedError(envelope.code, envelope.message);
        const entry = envelope.ref === undefined ? undefined : this.#outbox.settle(envelope.ref);
        if (entry) entry.reject(error);
        else this.#events.emit('error', error);
        return;
      }
      default:
        return;
    }
  }

  #onMsg(topic: string, seq: number, data: unknown): void {
    const state = this.#topics.get(topic);
    if (!state) return;
    // Replays after a reconnect or a rung switch overlap what was already seen: drop by sequence.
    if (state.lastSeq !== undefined && seq <= state.lastSeq) return;
    state.lastSeq = seq;
    const schema = this.#options.messages;
    if (!schema) {
      this.#events.emit('message', { topic, seq, data: data as In });
      return;
    }
    let result: StandardSchemaV1.Result<In> | Promise<StandardSchemaV1.Result<In>>;
    try {
      result = schema['~standard'].validate(data);
    } catch (error) {
      this.#emitError(error, 'ERR_VALIDATION');
      return;
    }
    const deliver = (r: StandardSchemaV1.Result<In>) => {
      if (r.issues) this.#events.emit('error', new ValidationError(topic, seq, r.issues));
      else this.#events.emit('message', { topic, seq, data: r.value });
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
          `message ${topic}#${seq} dropped: too many pending validations`,
        ),
      );
      return;
    }
    this.#pendingValidations++;
    const pending = Promise.resolve(result);
    this.#validation = this.#validation
      .then(() => pending)
      .then(deliver, (error: unknown) => this.#emitError(error, 'ERR_VALIDATION'))
      .finally(() => {
        this.#pendingValidations--;
      });
  }

  #onActiveClose(link: Link, event: CloseEvent): void {
    if (link !== this.#current) return;
    this.#lose(link, describeClose(event.code, event.reason || closeCodeInfo(event.code).why));
  }

  /** The current link is gone (closed by the peer, dead, or dropped by us): decide between reconnect and stop. */
  #lose(link: Link, info: CloseInfo, sendCode: number = CloseCode.Normal): void {
    if (link !== this.#current) return;
    link.retire(sendCode, info.reason);
    this.#current = undefined;
    this.#stopHeartbeat();
    this.#cancelClimb();
    this.#closeInfo = info;
    this.#setRung(null);
    if (this.#stopped) return;
    if (info.retry === 'never') {
      this.#giveUp(info);
      return;
    }
    // A path that broke is retried at once (one client, one blip). A server that closed us on purpose
    // (restart, shutdown, overload) closed many clients at once: spread them out with the first jitter.
    const firstDelay = SERVER_INITIATED.has(info.code)
      ? Math.floor(Math.random() * this.#backoff.ceiling(0))
      : 0;
    if (!this.#running) void this.#run(firstDelay);
  }

  #giveUp(info: CloseInfo): void {
    this.#closeInfo = info;
    this.#teardown(CloseCode.Normal, 'giving up');
    this.#stopped = true;
    this.#emitError(
      new SwitchyardError('ERR_DISCONNECTED', `${info.name} (${info.code}): ${info.reason}; ${info.why}`, {
        closeCode: info.code,
      }),
      'ERR_DISCONNECTED',
    );
    this.#outbox.rejectAll(new SwitchyardError('ERR_DISCONNECTED', `gave up: ${info.reason}`));
    this.#setState('disconnected');
  }

  #teardown(code: number, reason: string): void {
    this.#stopHeartbeat();
    this.#cancelClimb();
    this.#current?.retire(code, reason);
    this.#current = undefined;
    this.#probe?.retire(code, reason);
    this.#probe = undefined;
    for (const link of this.#handshaking) link.retire(code, reason);
    this.#handshaking.clear();
    this.#setRung(null);
  }

  // ---- heartbeat ---------------------------------------------------------------------------------------

  #startHeartbeat(intervalMs: number): void {
    this.#heartbeat?.stop();
    const heartbeat = new Heartbeat(
      intervalMs,
      (id) => {
        if (this.#current) this.#sendOn(this.#current, { type: 'ping', id });
      },
      () => {
        if (!this.#current) return;
        this.#lose(
          this.#current,
          describeClose(CloseCode.HeartbeatTimeout, `no pong within ${intervalMs} ms`),
          CloseCode.HeartbeatTimeout,
        );
      },
    );
    this.#heartbeat = heartbeat;
    heartbeat.start();
  }

  #stopHeartbeat(): void {
    this.#heartbeat?.stop();
    this.#heartbeat = undefined;
  }

  // ---- background climb --------------------------------------------------------------------------------

  #climbAfter(): number {
    return this.#options.climb === false ? 0 : (this.#options.climb?.afterMs ?? 10_000);
  }

  #scheduleClimb(): void {
    this.#cancelClimb();
    if (this.#options.climb === false || !this.#rung) return;
    if (rungsAbove(this.#ladder, this.#rung).length === 0) {
      this.#climbDelay = this.#climbAfter();
      return;
    }
    this.#climbTimer = setTimeout(() => void this.#climb(), this.#climbDelay);
  }

  #cancelClimb(): void {
    if (this.#climbTimer) clearTimeout(this.#climbTimer);
    this.#climbTimer = undefined;
    this.#probe?.retire(CloseCode.Normal, 'climb cancelled');
    this.#probe = undefined;
  }

  async #climb(): Promise<void> {
    this.#climbTimer = undefined;
    const current = this.#current;
    if (!current || this.#stopped) return;
    const climb = this.#options.climb === false ? undefined : this.#options.climb;
    let token: string | undefined;
    try {
      token = await this.#options.token?.();
    } catch {
      token = undefined;
    }
    for (const offer of rungsAbove(this.#ladder, current.kind)) {
      if (this.#current !== current) return;
      try {
        const link = await this.#handshake(offer, climb?.timeoutMs ?? 5000, token, 'climb', (probe) => {
          this.#probe = probe;
        });
        if (this.#current !== current || this.#stopped) {
          link.retire(CloseCode.Normal, 'climb no longer needed');
          return;
        }
        this.#switchTo(link);
        this.#climbDelay = this.#climbAfter();
        return;
      } catch {
        // Try the next better rung; a failed probe never disturbs the current link.
      }
    }
    if (this.#current !== current) return;
    this.#climbDelay = Math.min(Math.max(1, this.#climbDelay) * 2, climb?.maxMs ?? 5 * 60_000);
    this.#scheduleClimb();
  }

  /** Makes `link` current and retires the old one; resume by seq and re-sent pubs make this lossless. */
  #switchTo(link: Link): void {
    const old = this.#current;
    this.#probe = undefined;
    this.#current = undefined;
    this.#stopHeartbeat();
    // Retiring detaches the old link's listeners first: whatever it still delivers is ignored, and the
    // new link's `sub ... since` replays it, so nothing is lost and nothing is seen twice.
    old?.retire(CloseCode.Normal, 'switched to a better rung');
    if (!this.#activate(link) && old) {
      // The new link died between its pong and now: treat it as losing the old one (reconnect).
      this.#current = old;
      this.#lose(old, describeClose(CloseCode.Abnormal, 'the better rung closed during the switch'));
    }
  }

  // ---- helpers -----------------------------------------------------------------------------------------

  #sendSub(link: Link, topic: string, state: TopicState): void {
    this.#sendOn(
      link,
      state.lastSeq === undefined ? { type: 'sub', topic } : { type: 'sub', topic, since: state.lastSeq },
    );
  }

  #sendOn(link: Link, envelope: Envelope): void {
    this.#sendRaw(link, this.#codec.encode(envelope));
  }

  #sendRaw(link: Link, payload: Payload): void {
    link.send(payload);
  }

  #setState(state: ClientState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#events.emit('state', state);
  }

  #setRung(rung: TransportKind | null): void {
    if (this.#rung === rung) return;
    this.#rung = rung;
    this.#events.emit('rung', rung);
  }

  #emitError(error: unknown, code: SwitchyardError['code']): void {
    this.#events.emit(
      'error',
      isSwitchyardError(error)
        ? error
        : new SwitchyardError(code, (error as Error)?.message ?? String(error), { cause: error }),
    );
  }

  /** Waits `ms`, or less when woken (close, online event). */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  #isOffline(): boolean {
    const nav = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
    return nav?.onLine === false;
  }

  /** Browsers: drop the link at once on `offline` (no waiting for a heartbeat), retry at once on `online`. */
  #watchNetwork(): (() => void) | undefined {
    const target = globalThis as {
      addEventListener?: (type: string, listener: () => void) => void;
      removeEventListener?: (type: string, listener: () => void) => void;
    };
    if (typeof target.addEventListener !== 'function' || typeof target.removeEventListener !== 'function') {
      return undefined;
    }
    const offline = () => {
      if (this.#current)
        this.#lose(this.#current, describeClose(CloseCode.Abnormal, 'the browser went offline'));
    };
    const online = () => {
      this.#backoff.reset();
      this.#wake?.();
    };
    target.addEventListener('offline', offline);
    target.addEventListener('online', online);
    return () => {
      target.removeEventListener?.('offline', offline);
      target.removeEventListener?.('online', online);
    };
  }
}
