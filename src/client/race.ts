/**
 * Racing the rungs (happy eyeballs, RFC 8305's idea, and Chromium's QUIC-vs-TCP race): waiting out a rung that
 * may never answer (QUIC silently dropped, a proxy that swallows frames) costs its whole budget on every visit.
 * So the best rung starts first, and each next one starts after a short head start, or at once when the one
 * before it failed; the first whose handshake passes carries the session, the rest are abandoned. A working
 * best rung that passes within its head start is the only one ever opened. Pure timing and bookkeeping here,
 * testable with fake timers; what an attempt is lives in dialer.ts.
 *
 * The other half is the hello: the first hello a server answers binds the session (`welcome.session`). Two
 * hellos in flight at once could each make a session on the server, and the loser's would be left behind
 * until it expired. `HelloGate` lets one hello out at a time while none has been answered; a rung that opens
 * meanwhile waits for that answer and then joins the same session, and only waits `holdMs` for a hello that
 * may never be answered (a proxy that accepted the upgrade and dropped everything after it).
 */

export interface RaceOptions<T> {
  /** How many rungs, best first. */
  readonly count: number;
  /**
   * How long each rung runs alone before the next one starts (at once when it fails). A rung whose connection
   * opened within it (the network carries it) gets as long again from that moment for its hello and ping.
   */
  readonly headStartMs: number;
  /**
   * Starts rung `index`; resolves when its handshake passed, rejects when it failed or was abandoned. It calls
   * `opened` when its connection opened, before the application handshake.
   */
  start(index: number, opened: () => void): Promise<T>;
  /** Takes a passed rung as the winner; false when it died in the meantime (then it counts as failed). */
  accept(value: T, index: number): boolean;
  /** A passed rung that came too late (a winner was taken, or the race ended): close it. */
  late(value: T, index: number): void;
  /** A failure no other rung would escape (a fatal close code, an expired token): ends the race. */
  final(error: unknown): boolean;
  /** The race is decided (`won`, or ended without a winner): abandon every rung still running. */
  decided(won: boolean): void;
  /** The client was closed: start nothing more. */
  stopped(): boolean;
}

/** How a race ended: the winner, or each started rung's failure by index (`final` set when one ended it). */
export type RaceResult<T> =
  | { readonly won: true; readonly value: T; readonly index: number }
  | { readonly won: false; readonly failures: readonly unknown[]; readonly final?: unknown };

export function raceRungs<T>(options: RaceOptions<T>): Promise<RaceResult<T>> {
  const { count, headStartMs } = options;
  return new Promise((resolve) => {
    const failures: unknown[] = [];
    let next = 0;
    let running = 0;
    let done = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (result: RaceResult<T>) => {
      done = true;
      clearTimeout(timer);
      options.decided(result.won);
      resolve(result);
    };
    const launch = (): void => {
      clearTimeout(timer);
      if (done) return;
      if (next >= count || options.stopped()) {
        if (running === 0) finish({ won: false, failures });
        return;
      }
      const index = next++;
      running++;
      timer = setTimeout(launch, headStartMs);
      let extended = false;
      const opened = () => {
        // Only the newest rung holds the next one back, and only once.
        if (done || extended || index !== next - 1) return;
        extended = true;
        clearTimeout(timer);
        timer = setTimeout(launch, headStartMs);
      };
      let started: Promise<T>;
      try {
        started = options.start(index, opened);
      } catch (error) {
        started = Promise.reject(error);
      }
      started.then(
        (value) => {
          running--;
          if (done) return options.late(value, index);
          if (options.accept(value, index)) return finish({ won: true, value, index });
          failures[index] = new Error('closed before use');
          failed(index);
        },
        (error: unknown) => {
          running--;
          if (done) return;
          failures[index] = error;
          if (options.final(error)) return finish({ won: false, failures, final: error });
          failed(index);
        },
      );
    };
    // The newest rung failed: the next one starts now, not after the head start. An older one failing changes
    // nothing for the newest, which keeps its head start.
    const failed = (index: number) => {
      if (index === next - 1 || next >= count) launch();
    };
    launch();
  });
}

/**
 * One race's hellos (see the header). `hello` sends at once when the race already knows its session (a
 * welcome arrived) or when no other hello is unanswered; otherwise it waits for that answer, for that
 * attempt to end, or for it to have gone unanswered `holdMs`.
 */
export class HelloGate {
  readonly #known: () => string | undefined;
  readonly #holdMs: number;
  #session: string | undefined;
  /** The unanswered hello that may bind a session, and when it went out. */
  #pending: { attempt: number; at: number } | undefined;
  /** Held hellos, oldest first. */
  readonly #waiting = new Map<number, (session: string | undefined) => void>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `known`: the client's session before this race (sent in the first hello, resumed if the server has it). */
  constructor(known: () => string | undefined, holdMs: number) {
    this.#known = known;
    this.#holdMs = holdMs;
  }

  hello(attempt: number, send: (session: string | undefined) => void): void {
    if (this.#session !== undefined) send(this.#session);
    else if (!this.#pending) this.#release(attempt, send);
    else {
      this.#waiting.set(attempt, send);
      this.#schedule();
    }
  }

  /** `attempt`'s hello was answered: every held hello joins that session. */
  welcome(attempt: number, session: string): void {
    if (this.#pending?.attempt === attempt) this.#pending = undefined;
    this.#session ??= session;
    clearTimeout(this.#timer);
    const held = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const send of held) send(this.#session);
  }

  /** `attempt` ended (failed, abandoned): its held hello is dropped, or the next held one may go. */
  gone(attempt: number): void {
    this.#waiting.delete(attempt);
    if (this.#pending?.attempt !== attempt) return;
    this.#pending = undefined;
    this.#promote();
  }

  #release(attempt: number, send: (session: string | undefined) => void): void {
    this.#pending = { attempt, at: Date.now() };
    send(this.#known());
    this.#schedule();
  }

  #promote(): void {
    clearTimeout(this.#timer);
    const [first] = this.#waiting;
    if (!first) return;
    this.#waiting.delete(first[0]);
    this.#release(first[0], first[1]);
  }

  /** Past `holdMs` the unanswered hello probably never arrived: the oldest held one goes too. */
  #schedule(): void {
    clearTimeout(this.#timer);
    if (!this.#pending || this.#waiting.size === 0) return;
    const wait = this.#pending.at + this.#holdMs - Date.now();
    this.#timer = setTimeout(() => this.#promote(), Math.max(0, wait));
  }
}

/**
 * The racing rungs' tokens: single-use, so each rung needs its own. Rung 0 takes the round's; the others are
 * fetched on first ask (early, by a prefetch, or when the rung starts) and kept, so a prefetched token is the
 * one its rung uses. Without a token callback every rung gets the round's (undefined).
 */
export class TokenSupply {
  readonly #tokens: (string | undefined | Promise<string | undefined>)[];
  readonly #fetch: (() => Promise<string | undefined>) | undefined;

  constructor(first: string | undefined, fetch: (() => Promise<string | undefined>) | undefined) {
    this.#tokens = [first];
    this.#fetch = fetch;
  }

  get(index: number): string | undefined | Promise<string | undefined> {
    if (!this.#fetch) return this.#tokens[0];
    if (index in this.#tokens) return this.#tokens[index];
    const token = this.#fetch();
    // A failed fetch fails the rung that uses it (its attempt reports why); never an unhandled rejection.
    token.catch(() => undefined);
    this.#tokens[index] = token;
    return token;
  }
}
