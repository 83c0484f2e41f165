/**
 * The production client: connects over the best rung that passes an application-level handshake (dialer.ts),
 * keeps it alive with heartbeats, reconnects with backoff, resumes topics from their last sequence
 * (topics.ts), re-sends unacknowledged publishes (outbox.ts; the server dedups by message id), and climbs
 * back up in the background when a better rung becomes reachable (climber.ts). This file owns the one
 * current link and the decisions about losing it. Every transport it opens is wrapped in a `Link` tagged
 * with an attempt id; events from a link that is no longer current are ignored.
 */
import { CloseCode, closeCodeName } from '../close-codes.ts';
import { type Codec, jsonCodec } from '../codec.ts';
import { Emitter } from '../emitter.ts';
import type { Envelope, WelcomeEnvelope } from '../envelope.ts';
import { isSwitchyardError, SwitchyardError } from '../errors.ts';
import type { CloseEvent, Payload, TransportKind } from '../transport.ts';
import { payloadByteLength } from '../utf8.ts';
import { Backoff } from './backoff.ts';
import { Climber } from './climber.ts';
import { Dialer } from './dialer.ts';
import { RejectedError } from './errors.ts';
import { Heartbeat } from './heartbeat.ts';
import { type CloseInfo, decodeWith, describeClose, type Link } from './link.ts';
import { isOffline, watchNetwork } from './network.ts';
import { Outbox } from './outbox.ts';
import { defaultRungMemory, type RungMemory } from './rung-memory.ts';
import { checkTopic, Topics } from './topics.ts';
import type {
  ClientEvents,
  ClientOptions,
  ClientState,
  ClientStats,
  PublishOptions,
  Subscription,
} from './types.ts';

type TypeOf<In> = In extends { readonly type: infer T extends string } ? T : never;

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
const DEFAULT_VOLATILE_HIGH_WATER_MARK = 64 * 1024;

function randomId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}

function retryAfterMs(info: CloseInfo): number | undefined {
  if (info.code !== CloseCode.RateLimited) return undefined;
  const match = /retry after (\d+) ms/.exec(info.reason);
  return match ? Math.min(Number(match[1]), 60_000) : undefined;
}

function encodingError(cause: unknown): SwitchyardError {
  return new SwitchyardError('ERR_INVALID_ENVELOPE', 'data cannot be encoded by the codec', { cause });
}

export class Client<In = unknown> {
  readonly #options: ClientOptions<In>;
  readonly #events = new Emitter<ClientEvents<In>>();
  readonly #codec: Codec;
  readonly #backoff: Backoff;
  readonly #outbox: Outbox;
  readonly #memory: RungMemory | undefined;
  readonly #origin: string;
  readonly #topics: Topics<In>;
  readonly #dialer: Dialer;
  readonly #climber: Climber;
  readonly #stats = { volatileSent: 0, volatileDropped: 0 };

  #state: ClientState = 'disconnected';
  #rung: TransportKind | null = null;
  #closeInfo: CloseInfo | undefined;
  #running = false;
  #stopped = false;
  #everConnected = false;
  #session: string | undefined;
  #current: Link | undefined;
  #heartbeat: Heartbeat | undefined;
  #wake: (() => void) | undefined;
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
    this.#topics = new Topics<In>(this.#events, options.messages, {
      followed: (topic, envelope) => {
        if (this.#current) this.#sendOn(this.#current, envelope, topic);
      },
      unfollowed: (topic) => {
        if (this.#current) this.#sendOn(this.#current, { type: 'unsub', topic }, topic);
      },
    });
    this.#dialer = new Dialer(
      options as ClientOptions<unknown>,
      this.#codec,
      {
        attempt: (event) => this.#events.emit('attempt', event),
        error: (error) => this.#events.emit('error', error),
      },
      () => this.#session,
    );
    this.#climber = new Climber(options.climb, this.#dialer, {
      current: () => this.#current,
      stopped: () => this.#stopped,
      switchTo: (link) => this.#switchTo(link),
    });
    this.#detachNetwork = watchNetwork(
      () => {
        if (this.#current)
          this.#lose(this.#current, describeClose(CloseCode.Abnormal, 'the browser went offline'));
      },
      () => {
        this.#backoff.reset();
        this.#wake?.();
      },
    );
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

  /** Reliable publishes waiting for an ack (sent or not). */
  get pending(): number {
    return this.#outbox.size;
  }

  get stats(): ClientStats {
    return { ...this.#stats, volatileReceived: this.#topics.volatileReceived };
  }

  on<K extends keyof ClientEvents<In>>(type: K, listener: (event: ClientEvents<In>[K]) => void): () => void {
    return this.#events.on(type, listener);
  }

  /** Handles messages of one `type` of a discriminated-union schema (`{ type: 'chat', ... } | ...`). */
  handle<T extends TypeOf<In>>(
    type: T,
    handler: (data: Extract<In, { readonly type: T }>, message: ClientEvents<In>['message']) => void,
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
    return this.#topics.subscribe(topic, options.since);
  }

  /**
   * Sends `data` (to `topic`'s subscribers, with the default server handler).
   *
   * Reliable (default): at-least-once; resolves when the server acknowledged it; kept in the bounded buffer
   * while offline and re-sent after a reconnect under the same id, which the server dedups. Rejects with
   * ERR_BUFFER_FULL (policy), ERR_MESSAGE_TOO_BIG, ERR_REJECTED (the server refused it) or ERR_DISCONNECTED.
   *
   * `{ reliable: false }`: see `PublishOptions.reliable`; rejects only for bad input.
   */
  publish(topic: string | undefined, data: unknown, options: PublishOptions = {}): Promise<void> {
    if (this.#stopped && this.#state === 'disconnected') {
      return Promise.reject(new SwitchyardError('ERR_DISCONNECTED', 'client is closed'));
    }
    const invalid =
      topic === undefined
        ? options.reliable === false
          ? new SwitchyardError('ERR_INVALID_ENVELOPE', 'an unreliable publish needs a topic')
          : undefined
        : checkTopic(topic);
    if (invalid) return Promise.reject(invalid);
    // These would leave `data` out of the envelope, which the server answers with BadEnvelope (fatal).
    if (data === undefined || typeof data === 'function' || typeof data === 'symbol') {
      return Promise.reject(
        new SwitchyardError('ERR_INVALID_ENVELOPE', `publish: data cannot be ${typeof data} (use null)`),
      );
    }
    if (options.reliable === false) return this.#publishVolatile(topic as string, data);
    const id = randomId();
    let payload: Payload;
    try {
      payload = this.#codec.encode(
        topic === undefined ? { type: 'pub', id, data } : { type: 'pub', id, topic, data },
      );
    } catch (cause) {
      return Promise.reject(encodingError(cause));
    }
    const bytes = payloadByteLength(payload);
    const tooBig = this.#checkSize(bytes);
    if (tooBig) return Promise.reject(tooBig);
    return new Promise<void>((resolve, reject) => {
      this.#outbox.add({ id, topic, payload, bytes, resolve, reject });
      this.#current?.send(payload, topic);
    });
  }

  #publishVolatile(topic: string, data: unknown): Promise<void> {
    let payload: Payload;
    try {
      payload = this.#codec.encode({ type: 'vpub', topic, data });
    } catch (cause) {
      return Promise.reject(encodingError(cause));
    }
    const bytes = payloadByteLength(payload);
    const tooBig = this.#checkSize(bytes);
    if (tooBig) return Promise.reject(tooBig);
    const highWaterMark = this.#options.volatileHighWaterMark ?? DEFAULT_VOLATILE_HIGH_WATER_MARK;
    if (this.#current?.sendUnreliable(payload, bytes, topic, highWaterMark)) this.#stats.volatileSent++;
    else this.#stats.volatileDropped++;
    return Promise.resolve();
  }

  #checkSize(bytes: number): SwitchyardError | undefined {
    const max = this.#dialer.maxMessageBytes;
    if (bytes <= max) return undefined;
    return new SwitchyardError(
      'ERR_MESSAGE_TOO_BIG',
      `message of ${bytes} bytes exceeds the server's limit of ${max}`,
      { closeCode: CloseCode.MessageTooBig },
    );
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
        if (isOffline()) await this.#sleep(this.#backoff.maxMs);
        if (this.#stopped) return;
        const result = await this.#dialer.round({
          stopped: () => this.#stopped,
          activate: (link) => this.#activate(link),
          failedRounds: this.#backoff.attempt,
          remembered: this.#memory?.get(this.#origin),
        });
        if (result.outcome === 'connected' || this.#stopped) return;
        if (result.outcome === 'fatal') {
          this.#giveUp(result.close);
          return;
        }
        if (result.close) this.#closeInfo = result.close;
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

  /** Makes a link that passed its handshake the current one; false if it died in the meantime. */
  #activate(link: Link): boolean {
    if (link.phase !== 'handshake') return false;
    const welcome = link.welcome as WelcomeEnvelope;
    link.phase = 'active';
    link.onActiveMessage = (payload) => this.#onActiveMessage(link, payload);
    link.onActiveClose = (event) => this.#onActiveClose(link, event);
    this.#current = link;
    this.#session = welcome.session;
    this.#dialer.maxMessageBytes = welcome.maxMessageBytes;
    this.#everConnected = true;
    this.#backoff.reset();
    this.#memory?.set(this.#origin, link.kind);
    // Never slower than the server expects: it closes connections silent for 2.5 of its intervals.
    this.#startHeartbeat(Math.min(this.#options.heartbeatMs ?? welcome.heartbeatMs, welcome.heartbeatMs));
    for (const envelope of this.#topics.subscribeEnvelopes()) this.#sendOn(link, envelope, envelope.topic);
    for (const entry of this.#outbox.entries()) link.send(entry.payload, entry.topic);
    this.#setRung(link.kind);
    this.#setState('connected');
    this.#climber.schedule();
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
        this.#topics.onMessage(envelope.topic, envelope.seq, envelope.data);
        return;
      case 'vmsg':
        this.#topics.onVolatile(envelope.topic, envelope.data);
        return;
      case 'reset':
        this.#topics.onReset(envelope.topic, envelope.seq, envelope.reason);
        return;
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

  #onActiveClose(link: Link, event: CloseEvent): void {
    if (link !== this.#current) return;
    this.#lose(link, describeClose(event.code, event.reason || closeCodeName(event.code)));
  }

  /** The current link is gone (closed by the peer, dead, or dropped by us): decide between reconnect and stop. */
  #lose(link: Link, info: CloseInfo, sendCode: number = CloseCode.Normal): void {
    if (link !== this.#current) return;
    link.retire(sendCode, info.reason);
    this.#current = undefined;
    this.#stopHeartbeat();
    this.#climber.cancel();
    this.#closeInfo = info;
    this.#setRung(null);
    if (this.#stopped) return;
    if (info.retry === 'never') {
      this.#giveUp(info);
      return;
    }
    // A path that broke is retried at once (one client, one blip). A server that closed us on purpose
    // (restart, shutdown, overload) closed many clients at once: spread them out with the first jitter.
    // A rate-limited client waits as long as the server said (docs/protocol.md: `retry after <n> ms`).
    const firstDelay =
      retryAfterMs(info) ??
      (SERVER_INITIATED.has(info.code) ? Math.floor(Math.random() * this.#backoff.ceiling(0)) : 0);
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
    this.#climber.cancel();
    this.#current?.retire(code, reason);
    this.#current = undefined;
    this.#dialer.retireAll(code, reason);
    this.#setRung(null);
  }

  /** Makes `link` current and retires the old one; resume by seq and re-sent pubs make this lossless. */
  #switchTo(link: Link): void {
    const old = this.#current;
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

  // ---- helpers -----------------------------------------------------------------------------------------

  /** Sends an envelope on `topic`'s lane (the default channel for connection-level envelopes). */
  #sendOn(link: Link, envelope: Envelope, topic?: string): void {
    link.send(this.#codec.encode(envelope), topic);
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
}
