/**
 * Every open ServerConnection of this process, whatever its rung, so that shutdown can close them all
 * with 1001 after their queued data has drained, and so that limits can count them.
 */
import { CloseCode } from '../src/close-codes.ts';
import { type CloseWatchable, type CloseWatcher, WATCH_CLOSE } from '../src/connection-core.ts';
import type { ConnectionHandler, ServerConnection } from '../src/transport.ts';

export class ConnectionRegistry implements CloseWatcher {
  readonly #open = new Set<ServerConnection>();

  get size(): number {
    return this.#open.size;
  }

  [Symbol.iterator](): IterableIterator<ServerConnection> {
    return this.#open.values();
  }

  #closing: { code: number; reason: string } | undefined;

  /** Sees every connection as it opens, before its handler (metrics: server/metrics/tap.ts). */
  tap: ((connection: ServerConnection) => void) | undefined;
  /** Told of every connection request refused at admission, by rung and error code (metrics). */
  onRefusal: ((kind: string, code: string) => void) | undefined;

  /** Wraps a handler so that every connection it sees is tracked until it closes. */
  track(handler: ConnectionHandler): ConnectionHandler {
    return (connection) => {
      // A client reconnecting while the server shuts down is turned away at once, or shutdown would wait on it.
      if (this.#closing) {
        connection.close(this.#closing.code, this.#closing.reason);
        return;
      }
      this.#open.add(connection);
      this.tap?.(connection);
      if (WATCH_CLOSE in connection) (connection as ServerConnection & CloseWatchable)[WATCH_CLOSE](this);
      else connection.on('close', () => this.#open.delete(connection));
      handler(connection);
    };
  }

  connectionClosed(connection: ServerConnection): void {
    this.#open.delete(connection);
  }

  /** Waits (up to `drainMs`) for queued data to leave, then closes every connection with `code`. */
  async closeAll(
    code: number = CloseCode.GoingAway,
    reason = 'server shutting down',
    drainMs = 2000,
  ): Promise<void> {
    this.#closing = { code, reason };
    const deadline = Date.now() + drainMs;
    while (Date.now() < deadline && [...this.#open].some((c) => c.bufferedAmount > 0)) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const closing = [...this.#open].map(
      (connection) =>
        new Promise<void>((resolve) => {
          if (connection.state === 'closed') return resolve();
          connection.on('close', () => resolve());
          connection.close(code, reason);
        }),
    );
    await Promise.race([Promise.all(closing), new Promise((resolve) => setTimeout(resolve, drainMs))]);
  }
}
