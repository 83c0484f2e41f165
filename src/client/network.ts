/**
 * The browser's own view of the network: on `offline` the link is dropped at once (no waiting for a
 * heartbeat to time out), on `online` the reconnect loop is woken. Elsewhere (Node, Deno) there is no such
 * signal and this does nothing.
 */

export function isOffline(): boolean {
  return (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine === false;
}

/** Listens for `offline` / `online` where the runtime has them; returns the function that stops listening. */
export function watchNetwork(offline: () => void, online: () => void): () => void {
  const target = globalThis as {
    addEventListener?: (type: string, listener: () => void) => void;
    removeEventListener?: (type: string, listener: () => void) => void;
  };
  target.addEventListener?.('offline', offline);
  target.addEventListener?.('online', online);
  return () => {
    target.removeEventListener?.('offline', offline);
    target.removeEventListener?.('online', online);
  };
}
