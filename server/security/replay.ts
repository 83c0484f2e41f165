/**
 * Where spent token ids are remembered, so that a token admits one connection only. One process keeps them in
 * memory (the embedded default); several nodes behind one public origin must share the record, or a token
 * spent on node A still admits a connection on node B: server/redis/replay.ts keeps it in Redis. Either way
 * the check and the record are one step (no read-then-write), so two requests presenting the same token at the
 * same moment admit exactly one.
 */
import type { Refusal } from '../../src/admission.ts';
import { CloseCode } from '../../src/close-codes.ts';

export interface ReplayStore {
  /**
   * Records `id` as spent until `expiresAtMs` (ms since the epoch: the token is refused as expired after it).
   * `true`: first use, admit. `false`: already spent (a replay). A refusal: the store cannot tell now (full,
   * unreachable), and nothing may be admitted on a token whose use cannot be recorded.
   */
  spend(id: string, expiresAtMs: number): boolean | Refusal | Promise<boolean | Refusal>;
}

export const replayBusy = (message: string): Refusal => ({
  status: 503,
  closeCode: CloseCode.TryAgainLater,
  code: 'ERR_BUSY',
  message,
  retryAfter: 1,
});

/** One process's memory, bounded: entries leave when their token expires; when full, new tokens wait (503). */
export class MemoryReplayStore implements ReplayStore {
  readonly #used = new Map<string, number>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: { readonly maxEntries?: number; readonly now?: () => number } = {}) {
    this.#maxEntries = options.maxEntries ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  spend(id: string, expiresAtMs: number): boolean | Refusal {
    this.#prune();
    if (this.#used.has(id)) return false;
    if (this.#used.size >= this.#maxEntries) return replayBusy('replay cache full');
    this.#used.set(id, expiresAtMs);
    return true;
  }

  #prune(): void {
    if (this.#used.size < 1024) return;
    const now = this.#now();
    for (const [id, expiresAt] of this.#used) if (expiresAt < now) this.#used.delete(id);
  }
}
