/**
 * Going back up the ladder in the background: a client that landed below the best rung (QUIC was blocked
 * for a moment, a proxy misbehaved) probes the better rungs later, first after `afterMs`, then less and less
 * often. A probe runs the full handshake beside the current link and never disturbs it; only a probe that
 * passed replaces the current link (down is fast, up is careful).
 */
import { CloseCode } from '../close-codes.ts';
import type { Dialer } from './dialer.ts';
import { rungsAbove } from './ladder.ts';
import type { Link } from './link.ts';
import type { ClientOptions } from './types.ts';

export interface ClimberHooks {
  readonly current: () => Link | undefined;
  readonly stopped: () => boolean;
  /** Makes `link` current in place of the old one. */
  readonly switchTo: (link: Link) => void;
}

export class Climber {
  readonly #options: ClientOptions<unknown>['climb'];
  readonly #dialer: Dialer;
  readonly #hooks: ClimberHooks;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #delay: number;
  #probe: Link | undefined;

  constructor(options: ClientOptions<unknown>['climb'], dialer: Dialer, hooks: ClimberHooks) {
    this.#options = options;
    this.#dialer = dialer;
    this.#hooks = hooks;
    this.#delay = this.#firstDelay();
  }

  #firstDelay(): number {
    return this.#options === false ? 0 : (this.#options?.afterMs ?? 10_000);
  }

  /** After connecting (or a failed probe): plan the next probe if a better rung exists. */
  schedule(): void {
    this.cancel();
    const current = this.#hooks.current();
    if (this.#options === false || !current) return;
    if (rungsAbove(this.#dialer.ladder, current.kind).length === 0) {
      this.#delay = this.#firstDelay();
      return;
    }
    this.#timer = setTimeout(() => void this.#climb(), this.#delay);
  }

  cancel(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#probe?.retire(CloseCode.Normal, 'climb cancelled');
    this.#probe = undefined;
  }

  /** The probe became the current link: it is no longer ours to retire. */
  release(link: Link): void {
    if (this.#probe === link) this.#probe = undefined;
  }

  async #climb(): Promise<void> {
    this.#timer = undefined;
    const current = this.#hooks.current();
    if (!current || this.#hooks.stopped()) return;
    const options = this.#options === false ? undefined : this.#options;
    let token: string | undefined;
    try {
      token = await this.#dialer.token();
    } catch {
      token = undefined;
    }
    for (const offer of rungsAbove(this.#dialer.ladder, current.kind)) {
      if (this.#hooks.current() !== current) return;
      try {
        const link = await this.#dialer.handshake(
          offer,
          options?.timeoutMs ?? 5000,
          token,
          'climb',
          (probe) => {
            this.#probe = probe;
          },
        );
        this.release(link);
        if (this.#hooks.current() !== current || this.#hooks.stopped()) {
          link.retire(CloseCode.Normal, 'climb no longer needed');
          return;
        }
        this.#hooks.switchTo(link);
        this.#delay = this.#firstDelay();
        return;
      } catch {
        // Try the next better rung; a failed probe never disturbs the current link.
      }
    }
    if (this.#hooks.current() !== current) return;
    this.#delay = Math.min(Math.max(1, this.#delay) * 2, options?.maxMs ?? 5 * 60_000);
    this.schedule();
  }
}
