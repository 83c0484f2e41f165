/**
 * Sessions in Redis, so that a client reconnecting to any node resumes its session and its upstream dedup
 * window there (no sticky sessions). Per session, all under the hash tag `{<id>}` (one shard of a Redis
 * Cluster, so every script of a session runs there): a hash `sess:{<id>}` (`@` marks existence, `#` counts
 * attaches; `m:<message id>` holds a message's outcome or a pending claim `p|<node>|<nonce>`), a list
 * `sessq:{<id>}` ordering the ids for the window bound, and the session's connections on every node
 * `sessm:{<id>}` (./members.ts: the per-session cap holds across nodes). All expire `graceMs` after the last
 * node holding a connection of the session stopped refreshing them, so a killed node's sessions go away by
 * themselves.
 *
 * Dedup across nodes: the first node to claim an id (one script, atomic) applies the message; a duplicate that
 * finds a settled outcome answers with it; one that finds a pending claim waits for it, and takes the claim
 * over when its node is dead (its liveness key expired), which is safe for the default publish because the
 * hub write carries an idempotency key (a second write of the same message is a no-op).
 */
import { createHash, randomBytes } from 'node:crypto';
import { CloseCode } from '../../src/close-codes.ts';
import { SwitchyardError } from '../../src/errors.ts';
import type { Maybe } from '../protocol/serial.ts';
import {
  type Baseline,
  type DedupOptions,
  type DedupResult,
  type PublishOutcome,
  type Session,
  type SessionMember,
  SessionMembers,
  type SessionStore,
  type SessionStoreOptions,
} from '../protocol/sessions.ts';
import type { RedisLink } from './connection.ts';
import { NodeMembers } from './members.ts';
import { ATTACH, CLAIM, REMEMBER, SETTLE } from './session-scripts.ts';

/** Session ids are server-made UUIDs; anything else a client sends is not looked up. */
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** How long a duplicate waits for a live node to settle the first copy before giving up (retryable). */
const MAX_WAIT_MS = 30_000;

function field(messageId: string): string {
  // Client-chosen ids are bounded by the message size only: long ones are hashed.
  return messageId.length <= 128
    ? `m:${messageId}`
    : `h:${createHash('sha256').update(messageId).digest('base64url')}`;
}

function encodeOutcome(outcome: PublishOutcome): string {
  return outcome.ok ? 'ok' : `e|${outcome.code}|${outcome.message}`;
}

function decodeOutcome(value: string): PublishOutcome | undefined {
  if (value === 'ok') return { ok: true };
  if (!value.startsWith('e|')) return undefined;
  const bar = value.indexOf('|', 2);
  return { ok: false, code: value.slice(2, bar), message: value.slice(bar + 1) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class RedisSession implements Session {
  readonly id: string;
  readonly members: SessionMembers;
  readonly #store: RedisSessionStore;
  /** Outcomes being applied on this node, for duplicates that arrive here meanwhile (two rungs at once). */
  readonly #local = new Map<string, Promise<PublishOutcome>>();
  /**
   * Topics whose baseline this node recorded or found: a resume (`sub` with a position) deletes only those,
   * instead of a write per resumed topic; any other record expires with the session or leaves by the bound.
   */
  #baselines: Set<string> | undefined;

  constructor(id: string, store: RedisSessionStore, maxConnections: number) {
    this.id = id;
    this.#store = store;
    this.members = new SessionMembers(maxConnections);
  }

  async baseline(topic: string): Promise<Baseline | undefined> {
    const key = this.#store.keys(this.id)[3];
    const value = await this.#store.link.call((redis) => redis.hget(key, topic), key);
    const bar = value?.indexOf('|') ?? -1;
    if (value == null || bar < 0) return undefined;
    this.#known(topic);
    return { seq: Number(value.slice(0, bar)), epoch: value.slice(bar + 1) };
  }

  async rememberBaseline(topic: string, baseline: Baseline): Promise<void> {
    const keys = this.#store.keys(this.id);
    await this.#store.link.script(
      REMEMBER,
      [keys[3], keys[4]],
      [topic, `${baseline.seq}|${baseline.epoch}`, Date.now(), this.#store.maxBaselines, this.#store.graceMs],
    );
    this.#known(topic);
  }

  #known(topic: string): void {
    this.#baselines ??= new Set();
    this.#baselines.add(topic);
  }

  forgetBaseline(topic: string, why: 'position' | 'unsub'): void {
    const known = this.#baselines?.delete(topic) ?? false;
    if (!known && why === 'position') return;
    const keys = this.#store.keys(this.id);
    void this.#store.link
      .call((redis) => redis.pipeline().hdel(keys[3], topic).zrem(keys[4], topic).exec(), keys[3])
      .catch(() => undefined);
  }

  async dedup(id: string, apply: () => Maybe<PublishOutcome>, options?: DedupOptions): Promise<DedupResult> {
    const name = field(id);
    const local = this.#local.get(name);
    if (local) return { outcome: local, duplicate: true };
    const claim = `p|${this.#store.link.nodeId}|${randomBytes(6).toString('base64url')}`;
    if (options?.idempotent) return this.#dedupIdempotent(name, claim, apply);
    let previous: string | null;
    try {
      previous = await this.#store.claim(this.id, name, claim);
    } catch (error) {
      // A timed-out claim may still run in Redis later: release it once Redis answers again.
      this.#store.later(this.id, name, claim, '');
      throw error;
    }
    if (previous === null) return { outcome: this.#apply(name, claim, apply), duplicate: false };
    const settled = decodeOutcome(previous);
    if (settled) return { outcome: Promise.resolve(settled), duplicate: true };
    // Someone else's pending claim: wait for its outcome, or apply here once it is ours.
    const outcome = this.#await(name, previous, claim).then((result) =>
      result === 'ours' ? this.#apply(name, claim, apply) : result,
    );
    return { outcome, duplicate: true };
  }

  /**
   * Claim and apply at once (one round trip of latency: the claim leaves first on the same connection, so Redis
   * runs it before the write). Whoever else holds or held the claim, the write happens once (its idempotency
   * key); the outcome is ours, and it is recorded only if the claim is ours.
   */
  async #dedupIdempotent(
    name: string,
    claim: string,
    apply: () => Maybe<PublishOutcome>,
  ): Promise<DedupResult> {
    const claimed = this.#store.claim(this.id, name, claim);
    const outcome = Promise.resolve(apply());
    this.#local.set(name, outcome);
    let previous: string | null;
    try {
      previous = await claimed;
    } catch (error) {
      this.#store.later(this.id, name, claim, '');
      if (this.#local.get(name) === outcome) this.#local.delete(name);
      throw error;
    }
    void outcome.then(async (result) => {
      if (previous === null) {
        const value = !result.ok && result.closeCode !== undefined ? '' : encodeOutcome(result);
        await this.#store
          .settle(this.id, name, claim, value)
          .catch(() => this.#store.later(this.id, name, claim, value));
      }
      if (this.#local.get(name) === outcome) this.#local.delete(name);
    });
    return { outcome, duplicate: previous !== null };
  }

  #apply(name: string, claim: string, apply: () => Maybe<PublishOutcome>): Promise<PublishOutcome> {
    const outcome = Promise.resolve(apply());
    this.#local.set(name, outcome);
    void outcome.then(async (result) => {
      // A retryable failure applied nothing: drop the claim so the re-sent copy applies for real.
      const value = !result.ok && result.closeCode !== undefined ? '' : encodeOutcome(result);
      await this.#store
        .settle(this.id, name, claim, value)
        .catch(() => this.#store.later(this.id, name, claim, value));
      if (this.#local.get(name) === outcome) this.#local.delete(name);
    });
    return outcome;
  }

  /**
   * Polls a pending claim until it settles (its outcome), or until the claim becomes ours: its node died (its
   * liveness key expired) and a compare-and-set moved the claim here, or it was released and we claimed it.
   */
  async #await(name: string, pending: string, claim: string): Promise<PublishOutcome | 'ours'> {
    const started = Date.now();
    let current = pending;
    for (let delay = 10; Date.now() - started < MAX_WAIT_MS; delay = Math.min(delay * 2, 250)) {
      await sleep(delay);
      try {
        const value = await this.#store.read(this.id, name);
        if (value === null) {
          const previous = await this.#store.claim(this.id, name, claim);
          if (previous === null) return 'ours';
          current = previous;
          continue;
        }
        const settled = decodeOutcome(value);
        if (settled) return settled;
        current = value;
        const owner = current.split('|')[1] ?? '';
        if (await this.#store.link.isAlive(owner)) continue;
        if (await this.#store.settle(this.id, name, current, claim)) return 'ours';
      } catch (error) {
        return retryLater(error instanceof Error ? error.message : String(error));
      }
    }
    return retryLater('the first copy of this message is still being applied');
  }
}

function retryLater(message: string): PublishOutcome {
  return { ok: false, code: 'ERR_UNAVAILABLE', message, closeCode: CloseCode.TryAgainLater };
}

export class RedisSessionStore implements SessionStore {
  readonly link: RedisLink;
  readonly graceMs: number;
  /** This node's connections of every session, as members of their session's set in Redis. */
  readonly members: NodeMembers;
  readonly #dedupWindow: number;
  readonly maxBaselines: number;
  readonly #maxConnections: number;
  readonly #maxSessions: number;
  /** Sessions with a connection on this node; their keys are kept alive from here. */
  readonly #local = new Map<string, RedisSession>();
  readonly #refresh: ReturnType<typeof setInterval>;
  /** Outcomes and released claims Redis did not take (it was down): written when it is back. */
  #later: { session: string; name: string; expected: string; value: string }[] = [];

  constructor(link: RedisLink, options: SessionStoreOptions = {}) {
    this.link = link;
    this.members = new NodeMembers(link);
    this.graceMs = Math.max(1000, options.graceMs ?? 60_000);
    this.#dedupWindow = options.dedupWindow ?? 4096;
    this.maxBaselines = Math.max(1, options.maxBaselines ?? 1024);
    this.#maxSessions = options.maxSessions ?? 100_000;
    this.#maxConnections = Math.max(1, options.maxConnectionsPerSession ?? 3);
    this.#refresh = setInterval(() => void this.#keepAlive(), Math.max(250, Math.floor(this.graceMs / 3)));
    this.#refresh.unref?.();
    link.onUp(() => void this.#flushLater());
  }

  /** Listens for this node's connections pushed out by another node (the link must be up). */
  start(): Promise<void> {
    return this.members.start();
  }

  /** Records a settle to retry when Redis is back (bounded: the oldest are dropped, their claims then expire). */
  later(session: string, name: string, expected: string, value: string): void {
    this.#later.push({ session, name, expected, value });
    if (this.#later.length > 10_000) this.#later.shift();
  }

  async #flushLater(): Promise<void> {
    const batch = this.#later;
    this.#later = [];
    for (const item of batch) {
      await this.settle(item.session, item.name, item.expected, item.value).catch(() =>
        this.#later.push(item),
      );
    }
  }

  get size(): number {
    return this.#local.size;
  }

  /**
   * The session's hash, its dedup order list, its members, its baselines and their order: one hash tag, so one
   * shard of a cluster.
   */
  keys(id: string): [string, string, string, string, string] {
    const tag = `{${id}}`;
    return [
      this.link.key('sess', tag),
      this.link.key('sessq', tag),
      this.link.key('sessm', tag),
      this.link.key('sessb', tag),
      this.link.key('sessbo', tag),
    ];
  }

  async attach(
    id: string | undefined,
    member: SessionMember,
  ): Promise<{ session: Session; resumed: boolean }> {
    const wanted = id !== undefined && SESSION_ID.test(id) ? id : undefined;
    if (wanted === undefined || !this.#local.has(wanted)) {
      if (this.#local.size >= this.#maxSessions) {
        throw new SwitchyardError('ERR_UNAVAILABLE', 'too many sessions on this node', {
          closeCode: CloseCode.TryAgainLater,
        });
      }
    }
    const memberId = this.members.idOf(member);
    const run = (sessionId: string, create: boolean) =>
      this.link.script(ATTACH, this.keys(sessionId).slice(0, 3), [
        this.graceMs,
        Date.now(),
        memberId,
        this.#maxConnections,
        create ? '1' : '0',
      ]) as Promise<(number | Buffer)[]>;
    let sessionId = wanted;
    // Held here: resumed even if Redis lost it meanwhile (made again there); else only if Redis still has it.
    const held = wanted !== undefined && this.#local.has(wanted);
    let reply: (number | Buffer)[];
    try {
      reply = wanted === undefined ? [0] : await run(wanted, held);
      if (Number(reply[0]) === 0) {
        sessionId = crypto.randomUUID();
        reply = await run(sessionId, true);
      }
    } catch (error) {
      this.members.forget(member);
      throw error;
    }
    const resumed = held || Number(reply[0]) === 1;
    // Another connection of the same session may have attached here while Redis answered.
    let session = this.#local.get(sessionId as string);
    if (!session) {
      session = new RedisSession(sessionId as string, this, this.#maxConnections);
      this.#local.set(session.id, session);
    }
    session.members.add(member);
    // The session's oldest connections beyond the cap, wherever they are.
    this.members.pushOut(reply.slice(1).map(String));
    return { session, resumed };
  }

  detach(handle: Session, member: SessionMember): void {
    const memberId = this.members.forget(member);
    const keys = this.keys(handle.id);
    const session = this.#local.get(handle.id);
    session?.members.delete(member);
    const last = session !== undefined && session.members.size === 0;
    if (last) this.#local.delete(handle.id);
    if (memberId === undefined && !last) return;
    void this.link
      .call((redis) => {
        const pipeline = redis.pipeline();
        if (memberId !== undefined) pipeline.zrem(keys[2], memberId);
        // From now on only the grace period keeps it (unless another node holds a connection and refreshes it).
        if (last) for (const key of keys) pipeline.pexpire(key, this.graceMs);
        return pipeline.exec();
      }, keys[0])
      .catch(() => undefined);
  }

  /** Keeps the sessions that have a connection here alive (one pipelined round trip for all of them). */
  async #keepAlive(): Promise<void> {
    if (this.#local.size === 0 || this.link.state !== 'up') return;
    // One pipeline per session, not one for all: on a Redis Cluster a pipeline must stay within one slot (a
    // session's keys share one); on one Redis they still leave together on the one command connection.
    await Promise.all(
      [...this.#local.keys()].map((id) => {
        const keys = this.keys(id);
        return this.link
          .call((redis) => {
            const pipeline = redis.pipeline();
            for (const key of keys) pipeline.pexpire(key, this.graceMs);
            return pipeline.exec();
          }, keys[0])
          .catch(() => undefined);
      }),
    );
  }

  async claim(session: string, name: string, claim: string): Promise<string | null> {
    const [hash, order] = this.keys(session);
    const previous = await this.link.script(
      CLAIM,
      [hash, order],
      [name, claim, this.#dedupWindow, this.graceMs],
    );
    return previous === null ? null : String(previous);
  }

  async settle(session: string, name: string, expected: string, value: string): Promise<boolean> {
    return Number(await this.link.script(SETTLE, [this.keys(session)[0]], [name, expected, value])) === 1;
  }

  async read(session: string, name: string): Promise<string | null> {
    const key = this.keys(session)[0];
    return this.link.call((redis) => redis.hget(key, name), key);
  }

  clear(): void {
    clearInterval(this.#refresh);
    this.#local.clear();
  }
}
