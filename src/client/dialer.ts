/**
 * How the client gets a working link: ask `/rt/negotiate` what the server offers (cached briefly), plan the
 * ladder, then race the rungs (race.ts): the best one starts, each next one after a short head start or at once
 * when the one before failed, each within its own budget, and the first that passes its handshake wins: `open`,
 * then hello -> welcome, then one ping -> pong. `open` alone proves nothing (proxies accept an upgrade and then
 * hold or drop frames). Every attempt gets an id and is reported as an `attempt` event; links still in their
 * handshake are tracked so that a close, a winner or a better link can retire them.
 */
import { CloseCode } from '../close-codes.ts';
import type { Codec } from '../codec.ts';
import type { Emitter } from '../emitter.ts';
import { PROTOCOL_VERSION } from '../envelope.ts';
import { isSwitchyardError, SwitchyardError } from '../errors.ts';
import { DEFAULT_MAX_LANES } from '../lanes.ts';
import { type MessageRate, type OfferedTransport, parseNegotiateResponse } from '../negotiate.ts';
import { DEFAULT_LIMITS, type Transport, type TransportKind } from '../transport.ts';
import { FallbackLog } from './fallback-log.ts';
import { planLadder } from './ladder.ts';
import { AttemptError, type CloseInfo, describeClose, Link } from './link.ts';
import { HelloGate, raceRungs, TokenSupply } from './race.ts';
import type { AttemptEvent, ClientEvents, ClientOptions } from './types.ts';

const DEFAULT_TIMEOUTS: Record<TransportKind, number> = { webtransport: 1000, websocket: 1200, sse: 4000 };
/** Each rung's head start in the race (docs/fallback.md: why this number, measured). */
export const DEFAULT_HEAD_START_MS = 250;
const OFFERS_TTL_MS = 5 * 60_000;

/** A round's outcome: `true` when connected, else why it failed if known (`retry: 'never'` ends the client). */
export type RoundResult = true | CloseInfo | undefined;

type Reports = Emitter<Pick<ClientEvents, 'attempt' | 'error'>>;

/** What a racing attempt shares with its race: the signal that abandons it, the hello gate, `opened`. */
interface RaceEntry {
  readonly signal: AbortSignal;
  readonly gate: HelloGate;
  opened(): void;
}

export class Dialer {
  readonly #options: ClientOptions<unknown>;
  readonly #codec: Codec;
  readonly #reports: Reports;
  readonly #session: () => string | undefined;
  /** Rungs given up since the last connection, reported in hello (server metrics). */
  readonly #fallbacks: FallbackLog;
  #attempts = 0;
  #offers: OfferedTransport[] | undefined;
  #offersAt = 0;
  #rate: MessageRate | undefined;
  /** What abandons each attempt not yet through its handshake (its rung may still be loading). */
  readonly #pending = new Set<(reason: string) => void>();
  /** The last planned ladder, best rung first. */
  ladder: OfferedTransport[] = [];
  /** What the server accepts; negotiate and welcome say. */
  maxMessageBytes = DEFAULT_LIMITS.maxMessageBytes;

  constructor(
    options: ClientOptions<unknown>,
    codec: Codec,
    reports: Reports,
    session: () => string | undefined,
  ) {
    this.#options = options;
    this.#codec = codec;
    this.#reports = reports;
    this.#session = session;
    this.#fallbacks = new FallbackLog(reports);
  }

  /** Fetches a fresh token from the app (undefined when the app uses none). */
  async token(): Promise<string | undefined> {
    return this.#options.token?.();
  }

  /**
   * One pass over the ladder: negotiate (or reuse a recent answer), then each rung in turn until `activate`
   * takes a link that passed its handshake. Later rounds (`failedRounds`) give each rung more time, up to 8x.
   */
  async round(
    failedRounds: number,
    remembered: TransportKind | undefined,
    stopped: () => boolean,
    activate: (link: Link) => boolean,
  ): Promise<RoundResult> {
    const result = await this.#round(failedRounds, remembered, stopped, activate);
    // A failed round may mean the server changed (restart with other rungs): negotiate again next time.
    if (result !== true) this.#offers = undefined;
    return result;
  }

  async #round(
    failedRounds: number,
    remembered: TransportKind | undefined,
    stopped: () => boolean,
    activate: (link: Link) => boolean,
  ): Promise<RoundResult> {
    const o = this.#options;
    // The token is fetched while negotiating: one round trip less before the first rung starts.
    const tokenFetch = this.token();
    tokenFetch.catch(() => undefined);
    // Reconnects reuse what the server said a moment ago: one round trip less, and no waiting on a pooled
    // keep-alive HTTP connection that died with the path the heartbeat just gave up on.
    let offers = this.#offers;
    if (!offers || Date.now() - this.#offersAt > OFFERS_TTL_MS) {
      const report = this.#reporter(++this.#attempts, 'negotiate', 'connect');
      try {
        const negotiated = await this.#negotiate();
        this.maxMessageBytes = negotiated.maxMessageBytes;
        this.#rate = negotiated.rate;
        this.#offers = offers = negotiated.transports;
        this.#offersAt = Date.now();
        report();
      } catch (error) {
        const message = (error as Error).message;
        report(error instanceof AttemptError ? error : new AttemptError(message, undefined, 'error'));
        const close = (error as AttemptError).close;
        return close?.retry === 'never' ? close : describeClose(CloseCode.Abnormal, message);
      }
    }
    const { ladder, attempts } = planLadder(offers, Object.keys(o.transports), o.order, remembered);
    this.ladder = ladder;
    if (!attempts.length) {
      return describeClose(CloseCode.Abnormal, 'no offered rung is available here');
    }
    let token: string | undefined;
    try {
      token = await tokenFetch;
    } catch (error) {
      // The app's token callback failed: reported as ERR_UNAUTHORIZED unless it already carries a code.
      this.#reports.emit(
        'error',
        isSwitchyardError(error)
          ? error
          : new SwitchyardError('ERR_UNAUTHORIZED', String(error), { cause: error }),
      );
      return undefined;
    }
    const headStartMs = o.headStartMs ?? DEFAULT_HEAD_START_MS;
    const abandon = new AbortController();
    const gate = new HelloGate(this.#session, headStartMs);
    // Tokens are single-use: each racing rung gets its own (the first one the round's).
    const tokens = new TokenSupply(token, o.token ? () => this.token() : undefined);
    const prefetch: ReturnType<typeof setTimeout>[] = [];
    const result = await raceRungs<Link>({
      count: attempts.length,
      headStartMs,
      start: (index, opened) => {
        const offer = attempts[index]!;
        const timeout =
          (o.connectTimeoutMs?.[offer.kind] ?? DEFAULT_TIMEOUTS[offer.kind]) * 2 ** Math.min(failedRounds, 3);
        // Halfway through this rung's head start, the next one's token is fetched, so it need not wait for it.
        if (o.token && index + 1 < attempts.length) {
          prefetch.push(setTimeout(() => tokens.get(index + 1), headStartMs / 2));
        }
        return this.handshake(offer, timeout, tokens.get(index), 'connect', {
          signal: abandon.signal,
          gate,
          opened,
        });
      },
      accept: (link) => {
        if (stopped()) {
          link.retire(CloseCode.Normal, 'client closed');
          return true;
        }
        return activate(link);
      },
      late: (link) => link.retire(CloseCode.Normal, 'another rung won the race'),
      // Fatal; or the rung worked and the server refused the token: a lower rung would refuse the same
      // token, so end the round and let the next one fetch a fresh token.
      final: (error) => {
        const refused = (error as AttemptError).close;
        return refused?.retry === 'never' || refused?.code === CloseCode.TokenExpired;
      },
      decided: (won) => abandon.abort(won ? 'another rung won the race' : 'the race ended'),
      stopped,
    });
    for (const timer of prefetch) clearTimeout(timer);
    if (result.won) return stopped() ? undefined : true;
    // The reason to report: the one that ended the race, else the lowest rung's (as when tried in turn).
    const error = result.final ?? result.failures.findLast((f) => f !== undefined);
    if (error === undefined) return undefined;
    return (error as AttemptError).close ?? describeClose(CloseCode.Abnormal, (error as Error).message);
  }

  async #negotiate() {
    const o = this.#options;
    const url = `${o.url.replace(/\/$/, '')}/rt/negotiate`;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), o.negotiateTimeoutMs ?? 3000);
    try {
      const response = await (o.fetch ?? fetch)(url, {
        signal: controller.signal,
        headers: { accept: 'application/json', ...o.headers },
      });
      const body = (await response.json().catch(() => undefined)) as
        | { closeCode?: unknown; message?: unknown }
        | undefined;
      if (!response.ok) {
        const text = `negotiate: HTTP ${response.status}${typeof body?.message === 'string' ? ` (${body.message})` : ''}`;
        throw new AttemptError(
          text,
          typeof body?.closeCode === 'number' ? describeClose(body.closeCode, text) : undefined,
        );
      }
      return parseNegotiateResponse(body, response.url || url);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Opens one rung and resolves once hello/welcome and one ping/pong went through it within `timeoutMs` (a
   * token still being fetched counts against it). In a race, `race` abandons it, gates its hello and hears
   * when it opened.
   */
  handshake(
    offer: OfferedTransport,
    timeoutMs: number,
    token: string | undefined | Promise<string | undefined>,
    purpose: AttemptEvent['purpose'],
    race?: RaceEntry,
  ): Promise<Link> {
    const { kind } = offer;
    const attempt = ++this.#attempts;
    const report = this.#reporter(attempt, kind, purpose);
    return new Promise<Link>((resolve, reject) => {
      let link: Link | undefined;
      let serverError: string | undefined;
      let settled = false;
      const abandon = (reason: string) =>
        done(new AttemptError(`${kind}: ${reason}`, undefined, 'abandoned'), reason);
      const done = (error?: AttemptError, closeReason = 'attempt abandoned') => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#pending.delete(abandon);
        race?.signal.removeEventListener('abort', lost);
        race?.gate.gone(attempt);
        report(error);
        if (!error) return resolve(link as Link);
        link?.retire(CloseCode.Normal, closeReason);
        reject(error);
      };
      const fail = (error: unknown) =>
        done(new AttemptError(`${kind}: ${(error as Error)?.message ?? error}`));
      const timer = setTimeout(
        () =>
          done(
            new AttemptError(`${kind}: no working connection within ${timeoutMs} ms`, undefined, 'timeout'),
          ),
        timeoutMs,
      );
      this.#pending.add(abandon);
      const lost = () => abandon(String(race?.signal.reason));
      race?.signal.addEventListener('abort', lost);
      const o = this.#options;
      const start = (transport: Transport, token: string | undefined) => {
        // Abandoned while its code was loading: opened only to be closed at once.
        if (settled) return transport.close();
        const l = new Link(attempt, kind, transport, this.#codec, o.lanes ?? DEFAULT_MAX_LANES, this.#rate);
        link = l;
        const send = (session: string | undefined) => {
          if (settled) return;
          const fallback = this.#fallbacks.pending();
          l.sendEnvelope({ type: 'hello', v: PROTOCOL_VERSION, token, session, lanes: o.lanes, fallback });
        };
        let greeted = false;
        const hello = () => {
          if (settled || greeted) return;
          greeted = true;
          race?.opened();
          if (race) race.gate.hello(attempt, send);
          else send(this.#session());
        };
        l.receive = (envelope) => {
          if (envelope instanceof Error) return fail(envelope);
          if (envelope.type === 'welcome') {
            l.welcome = envelope;
            race?.gate.welcome(attempt, envelope.session);
            l.sendEnvelope({ type: 'ping', id: attempt });
          } else if (envelope.type === 'pong' && envelope.id === attempt && l.welcome) {
            // Passed. Until the client takes it, traffic is ignored, and a close retires it (activation sees that).
            l.receive = () => undefined;
            l.closed = () => l.retire(CloseCode.Normal, 'closed before use');
            done();
          } else if (envelope.type === 'error') serverError = `${envelope.code}: ${envelope.message}`;
        };
        l.closed = ({ code, reason }) => {
          const why = reason || serverError || 'closed during the handshake';
          done(new AttemptError(`${kind}: ${why} (${code})`, describeClose(code, why)));
        };
        transport.on('open', hello);
        if (transport.state === 'open') hello();
      };
      const open = (token: string | undefined) => {
        if (settled) return;
        // A factory may return a promise (a rung whose code is loaded on first use): the load counts
        // against this attempt's budget, and one that fails fails the attempt like a rung that cannot open.
        const made = o.transports[kind]!({
          offer,
          url: offer.url,
          maxMessageBytes: this.maxMessageBytes,
          headers: o.headers,
          token,
        });
        // (`catch` after `then`: a start that throws fails the attempt here too, never goes unhandled.)
        if ('then' in made) made.then((transport) => start(transport, token)).catch(fail);
        else start(made, token);
      };
      try {
        if (token instanceof Promise) token.then(open).catch(fail);
        else open(token);
      } catch (error) {
        fail(error);
      }
    });
  }

  /** Abandons every attempt still loading or in its handshake (the client stops, or a climb is moot). */
  retireAll(reason: string): void {
    for (const abandon of [...this.#pending]) abandon(reason);
  }

  #reporter(attempt: number, kind: AttemptEvent['kind'], purpose: AttemptEvent['purpose']) {
    const started = Date.now();
    return (error?: AttemptError) =>
      this.#reports.emit('attempt', {
        attempt,
        kind,
        purpose,
        ok: !error,
        elapsedMs: Date.now() - started,
        ...(error ? { error: error.message, failure: error.failure } : {}),
      });
  }
}
