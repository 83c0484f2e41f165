/**
 * Sessions outlive a connection for a grace period, so that a client that reconnects (on any rung, and with a
 * shared store on any node) keeps its identity and its upstream dedup window: a `pub` re-sent after a drop is
 * acknowledged again but applied once. The store is an interface: the in-memory store here is the embedded
 * default for one process; server/redis/sessions.ts keeps the same state in Redis so any node can take any
 * request. Both bound the number of sessions and the ids each remembers. A session also remembers where each of
 * its subscriptions without a position started (its baseline), so that one whose first answer was lost with its
 * link is filled from there on the next connection, on any node (./baseline.ts).
 */

import { DedupWindow } from './dedup-window.ts';
import { isPromise, type Maybe } from './serial.ts';

/** A connection as the session sees it: something it can push out when a newer one takes over. */
export interface SessionMember {
  replace(): void;
}

/**
 * What happened to a `pub`, replayed verbatim to a duplicate. A failure with `closeCode` (a backend the server
 * needs is unavailable) is not remembered: the connection closes with that retryable code and the client's
 * outbox re-sends the message later, when it is applied for real.
 */
export type PublishOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly closeCode?: number };

/** The outcome of every successful publish: one object, not one per message. */
export const PUBLISHED: PublishOutcome = { ok: true };

export interface DedupResult {
  /** The outcome itself when it is known at once (the embedded store, a synchronous hub), else a promise. */
  readonly outcome: Maybe<PublishOutcome>;
  /** True when the id was already seen: `outcome` is the first one's. */
  readonly duplicate: boolean;
}

export interface DedupOptions {
  /**
   * `apply` is itself idempotent for this message (the default publish carries `<session>/<id>` as the hub's
   * idempotency key): a shared store may run it alongside its claim instead of after it, saving a round trip.
   * A duplicate then runs `apply` again, which writes nothing twice; its outcome is still reported as a duplicate.
   */
  readonly idempotent?: boolean;
}

/** Where a subscription without a position started: the topic's head then, and the epoch it belongs to. */
export interface Baseline {
  readonly seq: number;
  readonly epoch: string;
}

export interface Session {
  readonly id: string;
  /**
   * The remembered baseline of `topic` (see ./baseline.ts), if any. Rejects (ERR_UNAVAILABLE) when the store
   * cannot be reached.
   */
  baseline(topic: string): Maybe<Baseline | undefined>;
  /** Remembers `topic`'s baseline; resolves once it is kept (a shared store: written). Rejects when unreachable. */
  rememberBaseline(topic: string, baseline: Baseline): Maybe<void>;
  /**
   * The baseline of `topic` is not needed any more: the client has a position on it now (`position`: a shared
   * store may skip the write when it knows of no record, which then simply expires with the session), or left
   * it (`unsub`: forgotten for sure, so that a new subscription starts at the head).
   */
  forgetBaseline(topic: string, why: 'position' | 'unsub'): void;
  /**
   * Runs `apply` once per id within the window; a duplicate (even one arriving while the first is still
   * being applied, e.g. over the old and the new rung at once, or on another node) gets the first one's
   * outcome. Rejects (ERR_UNAVAILABLE) when the store cannot be reached: nothing was applied. A store that can
   * answer at once (the embedded one) returns the result itself, without a promise.
   */
  dedup(id: string, apply: () => Maybe<PublishOutcome>, options?: DedupOptions): Maybe<DedupResult>;
}

export interface SessionStore {
  /** How long a session survives without a connection. */
  readonly graceMs: number;
  /** Sessions held by this process (for tests and metrics). */
  readonly size: number;
  /** Resumes `id` if it is still alive, else opens a new session. Rejects (ERR_UNAVAILABLE) when unreachable. */
  attach(id: string | undefined, member: SessionMember): Promise<{ session: Session; resumed: boolean }>;
  /** The member left; the session lives on for `graceMs` without one. */
  detach(session: Session, member: SessionMember): void;
  /** Forgets what this process holds (shutdown). */
  clear(): void;
}

export interface SessionStoreOptions {
  /** How long a session survives without a connection (default 60 s). */
  readonly graceMs?: number;
  /** Client message ids remembered per session for dedup (default 4096; keep it above the client's buffer). */
  readonly dedupWindow?: number;
  /** Sessions kept at most; beyond it the oldest session without a connection is dropped (default 100 000). */
  readonly maxSessions?: number;
  /**
   * Live connections per session (default 3: the current one, a probe of a better rung, and a dead one the
   * server has not noticed yet). A newer connection pushes the oldest out with close code Replaced (4009).
   */
  readonly maxConnectionsPerSession?: number;
  /**
   * Baselines remembered per session (default 1024, four connections' worth of the default 256 topics each):
   * beyond it the oldest (most likely a topic the client left while offline) is forgotten.
   */
  readonly maxBaselines?: number;
}

function unref(timer: ReturnType<typeof setTimeout>): void {
  (timer as { unref?: () => void }).unref?.();
}

/** The members of one session on this process, bounded: a newer member pushes the oldest out. */
export class SessionMembers {
  /**
   * Oldest first. A session holds one member nearly always, so that one is kept as is (no array at all: an
   * array made by a spread or a push reserves room for 17, 152 bytes per idle connection); two or more in an
   * exact-size array replaced on every change (members change rarely).
   */
  #members: SessionMember | readonly SessionMember[] | undefined;
  readonly #max: number;

  constructor(max: number) {
    this.#max = Math.max(1, max);
  }

  get size(): number {
    const members = this.#members;
    return members === undefined ? 0 : Array.isArray(members) ? members.length : 1;
  }

  add(member: SessionMember): void {
    const current = this.#members;
    if (current === undefined) {
      this.#members = member;
      return;
    }
    const list: readonly SessionMember[] = Array.isArray(current) ? current : [current as SessionMember];
    if (list.includes(member)) return;
    const members = [...list, member];
    const pushedOut = members.length > this.#max ? members.splice(0, members.length - this.#max) : [];
    this.#members = members.length === 1 ? members[0] : members;
    for (const old of pushedOut) old.replace();
  }

  delete(member: SessionMember): void {
    const current = this.#members;
    if (current === member) this.#members = undefined;
    else if (Array.isArray(current) && current.includes(member)) {
      const members = current.filter((m) => m !== member);
      this.#members = members.length === 1 ? members[0] : members;
    }
  }
}

const FRESH_PUBLISHED: DedupResult = { outcome: PUBLISHED, duplicate: false };
const SEEN_PUBLISHED: DedupResult = { outcome: PUBLISHED, duplicate: true };

/**
 * A session is its own member list (it extends SessionMembers): one object per idle session instead of two, and
 * no field pointing from one to the other (40 bytes per idle connection).
 */
export class MemorySession extends SessionMembers implements Session {
  readonly id: string;
  /**
   * Client message id -> outcome (a pending promise while the app handles it), the last `dedupWindow` ids;
   * made on the first `pub`.
   */
  #seen: DedupWindow<Maybe<PublishOutcome>> | undefined;
  readonly #dedupWindow: number;
  /** Topic -> baseline, oldest first; made on the first subscription without a position. */
  #baselines: Map<string, Baseline> | undefined;
  readonly #maxBaselines: number;
  expiryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(id: string, dedupWindow: number, maxConnections: number, maxBaselines = 1024) {
    super(maxConnections);
    this.id = id;
    this.#dedupWindow = Math.max(1, dedupWindow);
    this.#maxBaselines = Math.max(1, maxBaselines);
  }

  /** Live connections of this session, oldest first (briefly two while a client climbs to a better rung). */
  get connections(): SessionMembers {
    return this;
  }

  baseline(topic: string): Baseline | undefined {
    return this.#baselines?.get(topic);
  }

  rememberBaseline(topic: string, baseline: Baseline): void {
    // biome-ignore lint/suspicious/noAssignInExpressions: made on first use
    const baselines = (this.#baselines ??= new Map());
    baselines.delete(topic);
    baselines.set(topic, baseline);
    if (baselines.size > this.#maxBaselines) baselines.delete(baselines.keys().next().value as string);
  }

  forgetBaseline(topic: string): void {
    this.#baselines?.delete(topic);
  }

  dedup(id: string, apply: () => Maybe<PublishOutcome>): DedupResult {
    // biome-ignore lint/suspicious/noAssignInExpressions: made on first use (idle sessions hold no window)
    const seen = (this.#seen ??= new DedupWindow(this.#dedupWindow, PUBLISHED));
    const known = seen.get(id);
    if (known !== undefined) {
      return known === PUBLISHED ? SEEN_PUBLISHED : { outcome: known, duplicate: true };
    }
    const outcome = apply();
    if (isPromise(outcome)) {
      seen.add(id, outcome);
      void outcome.then((result) => {
        if (seen.get(id) !== outcome) return;
        // A retryable failure applied nothing: the re-sent message must be applied, not answered from here.
        seen.set(id, !result.ok && result.closeCode !== undefined ? undefined : result);
      });
      return { outcome, duplicate: false };
    }
    if (!outcome.ok && outcome.closeCode !== undefined) {
      // Counted in the window (its slot is used) but not remembered: the re-sent message is applied.
      seen.add(id, undefined);
      return { outcome, duplicate: false };
    }
    seen.add(id, outcome);
    return outcome === PUBLISHED ? FRESH_PUBLISHED : { outcome, duplicate: false };
  }

  get rememberedIds(): number {
    return this.#seen?.size ?? 0;
  }
}

/** The embedded store: one process's memory, sessions expire `graceMs` after their last connection left. */
export class MemorySessionStore implements SessionStore {
  readonly #sessions = new Map<string, MemorySession>();
  readonly graceMs: number;
  readonly #dedupWindow: number;
  readonly #maxSessions: number;
  readonly #maxConnections: number;
  readonly #maxBaselines: number;

  constructor(options: SessionStoreOptions = {}) {
    this.graceMs = options.graceMs ?? 60_000;
    this.#dedupWindow = options.dedupWindow ?? 4096;
    this.#maxSessions = options.maxSessions ?? 100_000;
    this.#maxConnections = Math.max(1, options.maxConnectionsPerSession ?? 3);
    this.#maxBaselines = options.maxBaselines ?? 1024;
  }

  get size(): number {
    return this.#sessions.size;
  }

  get(id: string): MemorySession | undefined {
    return this.#sessions.get(id);
  }

  async attach(
    id: string | undefined,
    member: SessionMember,
  ): Promise<{ session: Session; resumed: boolean }> {
    let session = id === undefined ? undefined : this.#sessions.get(id);
    const resumed = session !== undefined;
    if (!session) {
      session = new MemorySession(
        crypto.randomUUID(),
        this.#dedupWindow,
        this.#maxConnections,
        this.#maxBaselines,
      );
      this.#sessions.set(session.id, session);
      this.#evict();
    }
    if (session.expiryTimer) clearTimeout(session.expiryTimer);
    session.expiryTimer = undefined;
    session.connections.add(member);
    return { session, resumed };
  }

  detach(handle: Session, member: SessionMember): void {
    const session = this.#sessions.get(handle.id);
    if (!session || session !== handle) return;
    session.connections.delete(member);
    if (session.connections.size > 0) return;
    session.expiryTimer = setTimeout(() => {
      if (session.connections.size === 0) this.#sessions.delete(session.id);
    }, this.graceMs);
    unref(session.expiryTimer);
  }

  #evict(): void {
    if (this.#sessions.size <= this.#maxSessions) return;
    for (const [id, session] of this.#sessions) {
      if (this.#sessions.size <= this.#maxSessions) return;
      if (session.connections.size === 0) {
        if (session.expiryTimer) clearTimeout(session.expiryTimer);
        this.#sessions.delete(id);
      }
    }
  }

  clear(): void {
    for (const session of this.#sessions.values()) if (session.expiryTimer) clearTimeout(session.expiryTimer);
    this.#sessions.clear();
  }
}
