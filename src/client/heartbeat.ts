/**
 * Application heartbeat, the same on every rung (browsers cannot see WebSocket protocol pings, SSE has none
 * upstream, and a proxy can keep a dead TCP connection looking alive). A ping goes out every interval; if
 * the previous one is still unanswered when the next is due, the path is declared dead. Silence that
 * starts at time s is therefore noticed by s + 2 intervals at the latest. It runs from construction.
 */
export class Heartbeat {
  readonly #timer: ReturnType<typeof setInterval>;
  #id = 0;
  #awaiting = false;

  constructor(intervalMs: number, ping: (id: number) => void, dead: () => void) {
    this.#timer = setInterval(() => {
      if (this.#awaiting) {
        this.stop();
        dead();
      } else {
        this.#awaiting = true;
        ping(++this.#id);
      }
    }, intervalMs);
  }

  /** Only the answer to the latest ping counts (a late pong of an older one proves less). */
  pong(id: number): void {
    if (id === this.#id) this.#awaiting = false;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
