/**
 * The production client: connects over the best rung that passes an application-level handshake (dialer.ts),
 * keeps it alive with heartbeats (link.ts), reconnects with backoff, resumes topics from their last sequence
 * (topics.ts), re-sends unacknowledged publishes (outbox.ts; the server dedups by message id), and climbs
 * back up in the background when a better rung becomes reachable (climber.ts). This file owns the public
 * surface, the one current link and the decisions about losing it. Events from a link that is no longer
 * current are ignored: a retired link's listeners are detached.
 */
import { CloseCode, closeCodeName } from '../close-codes.ts';
import { type Codec, jsonCodec } from '../codec.ts';
import { Emitter } from '../emitter.ts';
import type { Envelope } from '../envelope.ts';
import { SwitchyardError } from '../errors.ts';
import type { PresenceMember } from '../presence.ts';
import type { TransportKind } from '../transport.ts';
import { Backoff } from './backoff.ts';
import { type Climber, createClimber } from './climber.ts';
import { Dialer } from './dialer.ts';
import { disconnected, RejectedError } from './errors.ts';
import { type CloseInfo, describeClose, type Link } from './link.ts';
import { isOffline, watchNetwork } from './network.ts';
import { Outbox } from './outbox.ts';
import { PresenceRequests } from './presence.ts';
import { encodePublish } from './publish.ts';
import { defaultRungMemory, type RungMemory } from './rung-memory.ts';
import { Topics } from './topics.ts';
import type {
  ClientEvents,
  ClientOptions,
  ClientState,
  ClientStats,
  PublishOptions,
  SubscribeOptions,
  Subscription,
  TypeOf,
} from './types.ts';

export class Client<In = unknown> {
  readonly #options: ClientOptions<In>;
  readonly #events = new Emitter<ClientEvents<In>>();
  readonly #codec: Codec;
  readonly #backoff: Backoff;
  readonly #outbox: Outbox;
  readonly #memory: RungMemory | undefined;
  readonly #origin: string;
  readonly #topics: Topics<In>;
  readonly #presence: PresenceRequests<In>;
  readonly #dialer: Dialer;
  readonly #climber: Climber;
  readonly #detachNetwork: () => void;
  #volatileSent = 0;
  #volatileDropped = 0;
  #state: ClientState = 'disconnected';
  #rung: TransportKind | null = null;
  #closeInfo: CloseInfo | undefined;
  #running = false;
  #stopped = false;
  #everConnected = false;
  #session: string | undefined;
  #current: Link | undefined;
  #wake: (() => void) | undefined;

  constructor(options: ClientOptions<In>) {
    const { rememberRung } = options;
    this.#options = options;
    this.#codec = options.codec ?? jsonCodec;
    this.#backoff = new Backoff(options.backoff);
    this.#outbox = new Outbox(options.buffer);
    this.#origin = new URL(options.url).origin;
    this.#memory =
      rememberRung === false
        ? undefined
        : (rememberRung?.memory ?? defaultRungMemory(rememberRung?.ttlMs ?? 10 * 60_000));
    const send = (envelope: Envelope & { topic: string }) => {
      this.#current?.sendEnvelope(envelope, envelope.topic);
      return this.#current !== undefined;
    };
    this.#topics = new Topics<In>(this.#events, options.messages, send);
    this.#presence = new PresenceRequests<In>(this.#events, send);
    this.#dialer = new Dialer(
      options as ClientOptions<unknown>,
      this.#codec,
      this.#events,
      () => this.#session,
    );
    this.#climber = createClimber(
      options.climb,
      this.#dialer,
      () => this.#current,
      (link, old) => this.#switchTo(link, old),
    );
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
    if (options.autoConnect !== false) this.connect().catch(() => undefined);
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
    return {
      volatileSent: this.#volatileSent,
      volatileDropped: this.#volatileDropped,
      volatileReceived: this.#topics.volatileReceived,
    };
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
      if ((message.data as { type?: unknown } | null)?.type === type) {
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
        if (state === 'connected') resolve();
        else if (state === 'disconnected') reject(disconnected(this.#closeInfo as CloseInfo));
        else return;
        off();
      });
    });
    if (!this.#running) {
      if (this.#state === 'disconnected') this.#backoff.reset();
      this.#run();
    }
    return result;
  }

  /** Follows a topic, resuming after the last sequence seen; see SubscribeOptions for presence. */
  subscribe(topic: string, options: SubscribeOptions = {}): Subscription {
    return this.#topics.subscribe(topic, options);
  }

  /** Who is present on `topic` now (ERR_REJECTED where the server's app says no). */
  presence(topic: string): Promise<PresenceMember[]> {
    return this.#presence.query(topic);
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
    const reliable = options.reliable !== false;
    try {
      if (this.#stopped && this.#state === 'disconnected') {
        throw new SwitchyardError('ERR_DISCONNECTED', 'client is closed');
      }
      const { id, payload, bytes } = encodePublish(
        this.#codec,
        topic,
        data,
        reliable,
        this.#dialer.maxMessageBytes,
      );
      if (!id) {
        const highWaterMark = this.#options.volatileHighWaterMark ?? 64 * 1024;
        if (this.#current?.sendUnreliable(payload, bytes, topic as string, highWaterMark))
          this.#volatileSent++;
        else this.#volatileDropped++;
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        this.#outbox.add({ id, topic, payload, bytes, resolve, reject });
        this.#current?.send(payload, topic);
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Closes for good (until `connect()` is called again); pending publishes reject with ERR_DISCONNECTED. */
  close(): void {
    this.#stopped = true;
    this.#stop(describeClose(CloseCode.Normal, 'closed by the application'));
    this.#wake?.();
  }

  /** Also removes the online/offline listeners (browsers). */
  dispose(): void {
    this.close();
    this.#detachNetwork();
    this.#events.removeAll();
  }

  // ---- connection loop -------------------------------------------------------------------------------

  async #run(delay = 0): Promise<void> {
    this.#running = true;
    try {
      while (!this.#stopped) {
        this.#setState(this.#everConnected ? 'reconnecting' : 'connecting');
        if (delay > 0) await this.#sleep(delay);
        if (isOffline()) await this.#sleep(this.#backoff.maxMs);
        if (this.#stopped) return;
        const result = await this.#dialer.round(
          this.#backoff.attempt,
          this.#memory?.get(this.#origin),
          () => this.#stopped,
          (link) => this.#activate(link),
        );
        if (result === true || this.#stopped) return;
        if (result) this.#closeInfo = result;
        if (result?.retry === 'never') return this.#giveUp(result);
        delay = this.#backoff.next();
        if (this.#backoff.exhausted) {
          return this.#giveUp(
            describeClose(
              this.#closeInfo?.code ?? CloseCode.Abnormal,
              `gave up after ${this.#backoff.attempt} failed attempts`,
            ),
          );
        }
      }
    } finally {
      this.#running = false;
      // connect() called while this loop was giving up (e.g. from a 'disconnected' listener): run again.
      if (!this.#stopped && !this.#current && this.#state === 'disconnected') this.#run();
    }
  }

  /** Makes a link that passed its handshake the current one; false if it died in the meantime. */
  #activate(link: Link): boolean {
    if (link.retired) return false;
    const welcome = link.welcome!;
    link.receive = (received) => this.#receive(link, received);
    link.closed = ({ code, reason }) => this.#lose(link, describeClose(code, reason || closeCodeName(code)));
    // Never slower than the server expects: it closes connections silent for 2.5 of its intervals.
    const heartbeatMs = Math.min(this.#options.heartbeatMs ?? Infinity, welcome.heartbeatMs);
    link.startHeartbeat(heartbeatMs, () =>
      this.#lose(
        link,
        describeClose(CloseCode.HeartbeatTimeout, `no pong within ${heartbeatMs} ms`),
        CloseCode.HeartbeatTimeout,
      ),
    );
    this.#current = link;
    this.#session = welcome.session;
    this.#dialer.maxMessageBytes = welcome.maxMessageBytes;
    this.#everConnected = true;
    this.#backoff.reset();
    this.#memory?.set(this.#origin, link.kind);
    for (const envelope of this.#topics.subscribeEnvelopes(welcome.resumed))
      link.sendEnvelope(envelope, envelope.topic);
    for (const entry of this.#outbox.entries()) link.send(entry.payload, entry.topic);
    this.#setRung(link.kind);
    this.#setState('connected');
    this.#climber.schedule();
    return true;
  }

  #receive(link: Link, received: Envelope | SwitchyardError): void {
    if (received instanceof Error) {
      // A server that speaks garbage may be one bad node: report it, drop this connection, try again.
      this.#events.emit('error', received);
      this.#lose(
        link,
        describeClose(CloseCode.Abnormal, 'invalid envelope from the server'),
        CloseCode.BadEnvelope,
      );
    } else if (this.#topics.receive(received) || this.#presence.receive(received)) return;
    else if (received.type === 'ack') this.#outbox.settle(received.id)?.resolve();
    else if (received.type === 'error') {
      const error = new RejectedError(received.code, received.message);
      const entry = received.ref === undefined ? undefined : this.#outbox.settle(received.ref);
      if (entry) entry.reject(error);
      else this.#events.emit('error', error);
    }
  }

  /** The current link is gone (closed by the peer, dead, or dropped by us): decide between reconnect and stop. */
  #lose(link: Link, info: CloseInfo, sendCode: number = CloseCode.Normal): void {
    if (link !== this.#current) return;
    link.retire(sendCode, info.reason);
    this.#current = undefined;
    this.#climber.cancel();
    this.#dialer.retireAll('connection lost');
    this.#closeInfo = info;
    this.#setRung(null);
    if (this.#stopped) return;
    if (info.retry === 'never') {
      this.#giveUp(info);
      return;
    }
    if (!this.#running) this.#run(this.#backoff.afterLoss(info.code, info.reason));
  }

  #giveUp(info: CloseInfo): void {
    this.#stopped = true;
    this.#stop(info, true);
  }

  /**
   * Ends everything in flight (the current link, handshakes, pending publishes), then `disconnected`; when
   * the client gives up, the app also gets the reason as an `error` event.
   */
  #stop(info: CloseInfo, gaveUp?: boolean): void {
    this.#closeInfo = info;
    this.#climber.cancel();
    this.#current?.retire(CloseCode.Normal, info.reason);
    this.#current = undefined;
    this.#dialer.retireAll(info.reason);
    this.#setRung(null);
    const error = disconnected(info);
    if (gaveUp) this.#events.emit('error', error);
    this.#outbox.rejectAll(error);
    this.#setState('disconnected');
  }

  /** Makes `link` current in place of `old`; resume by seq and re-sent pubs make this lossless. */
  #switchTo(link: Link, old: Link): void {
    this.#current = undefined;
    // Retiring detaches the old link's listeners first: whatever it still delivers is ignored, and the
    // new link's `sub ... since` replays it, so nothing is lost and nothing is seen twice.
    old.retire(CloseCode.Normal, 'switched to a better rung');
    if (!this.#activate(link)) {
      // The new link died between its pong and now: treat it as losing the old one (reconnect).
      this.#current = old;
      this.#lose(old, describeClose(CloseCode.Abnormal, 'the better rung closed during the switch'));
    }
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
