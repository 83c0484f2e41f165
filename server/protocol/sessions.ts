/**
 * Sessions outlive a connection for a grace period, so that a client that reconnects (on any rung) keeps
 * its identity and its upstream dedup window: a `pub` re-sent after a drop is acknowledged again but
 * applied once. Both the number of sessions and the ids each remembers are bounded.
 */

/** A connection as the session sees it: something it can push out when a newer one takes over. */
export interface SessionMember {
  replace(): void;
}

/** What happened to a `pub`, replayed verbatim to a duplicate. */
export type PublishOutcome = { readonly ok: true } | { readonly ok: false; code: string; message: string };

export class Session {
  readonly id: string;
  /** Live connections of this session, oldest first (briefly two while a client climbs to a better rung). */
  readonly connections = new Set<SessionMember>();
  /** Client message id -> outcome (a pending promise while the app handles it). Insertion order = age. */
  readonly #seen = new Map<string, Promise<PublishOutcome>>();
  readonly #dedupWindow: number;
  expiryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(id: string, dedupWindow: number) {
    this.id = id;
    this.#dedupWindow = dedupWindow;
  }

  /**
   * Runs `apply` once per id within the window; a duplicate (even one arriving while the first is still
   * being applied, e.g. over the old and the new rung at once) gets the first one's outcome.
   */
  dedup(
    id: string,
    apply: () => Promise<PublishOutcome>,
  ): { outcome: Promise<PublishOutcome>; duplicate: boolean } {
    const known = this.#seen.get(id);
    if (known) return { outcome: known, duplicate: true };
    const outcome = apply();
    this.#seen.set(id, outcome);
    if (this.#seen.size > this.#dedupWindow) {
      const oldest = this.#seen.keys().next().value;
      if (oldest !== undefined) this.#seen.delete(oldest);
    }
    return { outcome, duplicate: false };
  }

  get rememberedIds(): number {
    return this.#seen.size;
  }
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
}

function unref(timer: ReturnType<typeof setTimeout>): void {
  (timer as { unref?: () => void }).unref?.();
}

export class SessionStore {
  readonly #sessions = new Map<string, Session>();
  readonly graceMs: number;
  readonly #dedupWindow: number;
  readonly #maxSessions: number;
  readonly #maxConnections: number;

  constructor(options: SessionStoreOptions = {}) {
    this.graceMs = options.graceMs ?? 60_000;
    this.#dedupWindow = options.dedupWindow ?? 4096;
    this.#maxSessions = options.maxSessions ?? 100_000;
    this.#maxConnections = Math.max(1, options.maxConnectionsPerSession ?? 3);
  }

  get size(): number {
    return this.#sessions.size;
  }

  get(id: string): Session | undefined {
    return this.#sessions.get(id);
  }

  /** Resumes `id` if it is still alive, else opens a new session. */
  attach(id: string | undefined, connection: SessionMember): { session: Session; resumed: boolean } {
    let session = id === undefined ? undefined : this.#sessions.get(id);
    const resumed = session !== undefined;
    if (!session) {
      session = new Session(crypto.randomUUID(), this.#dedupWindow);
      this.#sessions.set(session.id, session);
      this.#evict();
    }
    if (session.expiryTimer) clearTimeout(session.expiryTimer);
    session.expiryTimer = undefined;
    session.connections.add(connection);
    for (const member of session.connections) {
      if (session.connections.size <= this.#maxConnections) break;
      session.connections.delete(member);
      member.replace();
    }
    return { session, resumed };
  }

  detach(session: Session, connection: SessionMember): void {
    session.connections.delete(connection);
    if (session.connections.size > 0 || !this.#sessions.has(session.id)) return;
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
