/**
 * How the client gets a working link: ask `/rt/negotiate` what the server offers (cached briefly), plan the
 * ladder, then try each rung in turn, each with its own budget, until one passes its handshake. Every attempt
 * gets an id and is reported as an `attempt` event; links still in their handshake are tracked so that a
 * close or a better link can retire them.
 */
import { CloseCode } from '../close-codes.ts';
import type { Codec } from '../codec.ts';
import { isSwitchyardError, SwitchyardError } from '../errors.ts';
import { DEFAULT_MAX_LANES } from '../lanes.ts';
import { type MessageRate, type OfferedTransport, parseNegotiateResponse } from '../negotiate.ts';
import type { TransportKind } from '../transport.ts';
import { DEFAULT_LIMITS } from '../transport.ts';
import { planLadder } from './ladder.ts';
import { AttemptError, type CloseInfo, describeClose, type Link, openLink } from './link.ts';
import type { AttemptEvent, ClientOptions } from './types.ts';

/** Where the dialer reports what happened (the client's `attempt` and `error` events). */
export interface DialerReports {
  readonly attempt: (event: AttemptEvent) => void;
  readonly error: (error: SwitchyardError) => void;
}

const DEFAULT_TIMEOUTS: Record<TransportKind, number> = { webtransport: 1000, websocket: 1200, sse: 4000 };
const OFFERS_TTL_MS = 5 * 60_000;

export type RoundOutcome =
  | { readonly outcome: 'connected' }
  | { readonly outcome: 'failed'; readonly close: CloseInfo | undefined }
  | { readonly outcome: 'fatal'; readonly close: CloseInfo };

/** What a round needs from the client around it. */
export interface RoundHooks {
  readonly stopped: () => boolean;
  /** Takes a link that passed its handshake; false if it died in the meantime (try the next rung). */
  readonly activate: (link: Link) => boolean;
  /** Failed rounds so far: later rounds give each rung more time (up to 8x). */
  readonly failedRounds: number;
  readonly remembered: TransportKind | undefined;
}

export class Dialer {
  readonly #options: ClientOptions<unknown>;
  readonly #codec: Codec;
  readonly #reports: DialerReports;
  readonly #session: () => string | undefined;
  #attemptSeq = 0;
  #offers: { offers: OfferedTransport[]; at: number } | undefined;
  /** Links opened and not yet through their handshake. */
  readonly handshaking = new Set<Link>();
  /** The last planned ladder, best rung first. */
  ladder: OfferedTransport[] = [];
  /** What the server accepts; negotiate and welcome say. */
  maxMessageBytes = DEFAULT_LIMITS.maxMessageBytes;
  /** The server's per-connection message rate, when it announces one. */
  #rate: MessageRate | undefined;

  constructor(
    options: ClientOptions<unknown>,
    codec: Codec,
    reports: DialerReports,
    session: () => string | undefined,
  ) {
    this.#options = options;
    this.#codec = codec;
    this.#reports = reports;
    this.#session = session;
  }

  /** Fetches a fresh token from the app (undefined when the app uses none). */
  async token(): Promise<string | undefined> {
    return this.#options.token?.();
  }

  /** One pass over the ladder: negotiate, then each rung in turn. */
  async round(hooks: RoundHooks): Promise<RoundOutcome> {
    const result = await this.#roundOnce(hooks);
    // A failed round may mean the server changed (restart with other rungs): negotiate again next time.
    if (result.outcome !== 'connected') this.#offers = undefined;
    return result;
  }

  async #roundOnce(hooks: RoundHooks): Promise<RoundOutcome> {
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
        this.maxMessageBytes = negotiated.maxMessageBytes;
        this.#rate = negotiated.rate;
        this.#offers = { offers, at: Date.now() };
        this.#report(attempt, 'negotiate', 'connect', started);
      }
    } catch (error) {
      const message = (error as Error).message;
      this.#report(attempt, 'negotiate', 'connect', started, message);
      if (error instanceof AttemptError && error.close?.retry === 'never') {
        return { outcome: 'fatal', close: error.close };
      }
      return { outcome: 'failed', close: describeClose(CloseCode.Abnormal, message) };
    }
    const { ladder, attempts } = planLadder({
      offers,
      available: Object.keys(this.#options.transports) as TransportKind[],
      ...(this.#options.order ? { order: this.#options.order } : {}),
      ...(hooks.remembered ? { remembered: hooks.remembered } : {}),
    });
    this.ladder = ladder;
    if (attempts.length === 0) {
      return {
        outcome: 'failed',
        close: describeClose(CloseCode.Abnormal, 'no rung offered by the server is available here'),
      };
    }
    let token: string | undefined;
    try {
      token = await this.token();
    } catch (error) {
      this.#reports.error(asUnauthorized(error));
      return { outcome: 'failed', close: undefined };
    }
    const scale = 2 ** Math.min(hooks.failedRounds, 3);
    let close: CloseInfo | undefined;
    for (const offer of attempts) {
      if (hooks.stopped()) return { outcome: 'failed', close };
      const timeout = (this.#options.connectTimeoutMs?.[offer.kind] ?? DEFAULT_TIMEOUTS[offer.kind]) * scale;
      try {
        const link = await this.handshake(offer, timeout, token, 'connect');
        if (hooks.stopped()) {
          link.retire(CloseCode.Normal, 'client closed');
          return { outcome: 'failed', close };
        }
        if (hooks.activate(link)) return { outcome: 'connected' };
      } catch (error) {
        const refused = error instanceof AttemptError ? error.close : undefined;
        close = refused ?? describeClose(CloseCode.Abnormal, (error as Error).message);
        if (refused?.retry === 'never') return { outcome: 'fatal', close: refused };
        // The rung worked and the server refused the token: a lower rung would refuse the same token.
        // End the round so that the next one fetches a fresh token.
        if (refused?.code === CloseCode.TokenExpired) return { outcome: 'failed', close };
      }
    }
    return { outcome: 'failed', close };
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
  handshake(
    offer: OfferedTransport,
    timeoutMs: number,
    token: string | undefined,
    purpose: AttemptEvent['purpose'],
    onLink?: (link: Link) => void,
  ): Promise<Link> {
    const attempt = ++this.#attemptSeq;
    const started = Date.now();
    const factory = this.#options.transports[offer.kind];
    const lanes = this.#options.lanes;
    const ready = factory
      ? openLink(
          {
            factory,
            offer,
            attempt,
            timeoutMs,
            codec: this.#codec,
            maxMessageBytes: this.maxMessageBytes,
            token,
            session: this.#session(),
            headers: this.#options.headers,
            lanes: lanes ?? DEFAULT_MAX_LANES,
            announceLanes: lanes !== undefined,
            rate: this.#rate,
          },
          (link) => {
            this.handshaking.add(link);
            onLink?.(link);
          },
        )
      : Promise.reject(new AttemptError(`no factory for ${offer.kind}`, undefined));
    ready.then(
      (link) => this.handshaking.delete(link),
      () => {
        for (const link of this.handshaking) if (link.attempt === attempt) this.handshaking.delete(link);
      },
    );
    ready.then(
      () => this.#report(attempt, offer.kind, purpose, started),
      (error: unknown) => this.#report(attempt, offer.kind, purpose, started, (error as Error).message),
    );
    return ready;
  }

  /** Retires every link still in its handshake. */
  retireAll(code: number, reason: string): void {
    for (const link of this.handshaking) link.retire(code, reason);
    this.handshaking.clear();
  }

  #report(
    attempt: number,
    kind: AttemptEvent['kind'],
    purpose: AttemptEvent['purpose'],
    started: number,
    error?: string,
  ): void {
    this.#reports.attempt({
      attempt,
      kind,
      purpose,
      ok: error === undefined,
      elapsedMs: Date.now() - started,
      ...(error !== undefined ? { error } : {}),
    });
  }
}

/** The app's token callback failed: reported as ERR_UNAUTHORIZED unless it already carries a code. */
function asUnauthorized(error: unknown): SwitchyardError {
  return isSwitchyardError(error)
    ? error
    : new SwitchyardError('ERR_UNAUTHORIZED', (error as Error)?.message ?? String(error), { cause: error });
}
