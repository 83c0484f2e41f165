/**
 * What a test's raw protocol client received, in order, and a wait for the next envelope of a type: shared by
 * the clients that check the protocol on the wire (./protocol-peer.ts over our Node transport,
 * ./raw-protocol-client.ts over plain `ws`).
 */
export class EnvelopeInbox<T extends { readonly type: string }> {
  /** Every envelope received, in order. */
  readonly received: T[] = [];
  readonly #waiters: (() => void)[] = [];
  #cursor = 0;

  push(envelope: T): void {
    this.received.push(envelope);
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** The next envelope of `type` after those already returned (others are skipped, still in `received`). */
  async next(type: string): Promise<T> {
    for (;;) {
      while (this.#cursor < this.received.length) {
        const envelope = this.received[this.#cursor++] as T;
        if (envelope.type === type) return envelope;
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }
}
