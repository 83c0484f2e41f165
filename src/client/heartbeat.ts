/**
 * Application heartbeat, the same on every rung (browsers cannot see WebSocket protocol pings, SSE has none
 * upstream, and a proxy can keep a dead TCP connection looking alive). A ping goes out every interval; if
 * the previous one is still unanswered when the next is due, the path is declared dead. Silence that
 * starts at time s is therefore noticed by s + 2 intervals at the latest.
 */
export class Heartbeat {
  readonly intervalMs: number;
  readonly #ping: (id: number) => void;
  readonly #dead: () => void;
  #timer: ReturnType<typeof setInterval> | undefined;
  #id = 0;
  #awaiting = false;

  constructor(intervalMs: number, ping: (id: number) => void, dead: () => void) {
    this.intervalMs = intervalMs;
    this.#ping = ping;
    this.#dead = dead;
  }

  start(): void {
    this.stop();
    this.#timer = setInterval(() => {
      if (this.#awaiting) {
        this.stop();
        this.#dead();
        return;
      }
      this.#awaiting = true;
      this.#ping(++this.#id);
    }, this.intervalMs);
  }

  /** Only the answer to the latest ping counts (a late pong of an older one proves less). */
  pong(id: number): void {
    if (id === this.#id) this.#awaiting = false;
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#awaiting = false;
  }
}
