/**
 * The `network` fixture: per test, put the app's page behind the network conditions switchyard exists to
 * survive, and undo them when the test ends (even when it fails). Each method checks what it needs first
 * (./requirements.ts) and throws with the fix when the machine lacks it.
 *
 * | method              | what the page sees                                   | needs          |
 * |---------------------|------------------------------------------------------|----------------|
 * | blockQuic()         | UDP to the server dropped: WebTransport cannot connect | root, nft    |
 * | blockWebSocket()    | an nginx in front that strips `Upgrade`              | nginx          |
 * | bufferingProxy()    | an nginx in front that buffers responses (SSE waits) | nginx          |
 * | proxy(options)      | any of the above combined                            | nginx          |
 * | offline() / online()| the browser's own offline mode (events, failed fetches) | nothing     |
 * | silentDrop() / restore() | every packet to/from the server dropped, no FIN/RST | root, nft   |
 */
import type { BrowserContext } from '@playwright/test';
import { dropAllOn, dropUdpTo, type PacketRule } from './nft.ts';
import { type ProxyOptions, type RunningProxy, startProxy } from './nginx.ts';

function portOf(url: URL): number {
  if (url.port) return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

export class Network {
  /** The app's server, as configured (`switchyardTarget` or the project's `baseURL`). */
  readonly target: URL;
  readonly #context: BrowserContext;
  readonly #proxies: RunningProxy[] = [];
  #entry: URL;
  #quicBlock: PacketRule | undefined;
  #quicPorts = new Set<number>();
  #drop: PacketRule | undefined;

  constructor(target: URL, context: BrowserContext) {
    this.target = target;
    this.#entry = target;
    this.#context = context;
  }

  /** Where the page should go: the latest proxy put in front, else the app's server; `path` is appended. */
  url(path = '/'): string {
    return new URL(path, this.#entry).href;
  }

  /** The port the page's traffic goes to (the proxy's when there is one). */
  get entryPort(): number {
    return portOf(this.#entry);
  }

  /**
   * Blocks QUIC: UDP to the app's port (where WebTransport listens) and to any proxy's port is dropped, the
   * way a network that blocks UDP does it (silently). Browsers then fail the WebTransport handshake after
   * their own timeout; the client falls back. Needs root and nftables.
   */
  async blockQuic(): Promise<void> {
    this.#quicPorts.add(portOf(this.target));
    for (const proxy of this.#proxies) this.#quicPorts.add(proxy.port);
    this.#applyQuicBlock();
  }

  #applyQuicBlock(): void {
    const next = dropUdpTo([...this.#quicPorts], 'network.blockQuic()');
    this.#quicBlock?.remove();
    this.#quicBlock = next;
  }

  /** Puts a proxy in front of the app (see ./nginx.ts); later `url()` calls point at it. Returns its URL. */
  async proxy(options: Omit<ProxyOptions, 'upstream'> & { upstream?: string }): Promise<string> {
    const proxy = await startProxy({ ...options, upstream: options.upstream ?? this.#entry.origin });
    this.#proxies.push(proxy);
    this.#entry = new URL(proxy.url);
    if (this.#quicBlock) {
      this.#quicPorts.add(proxy.port);
      this.#applyQuicBlock();
    }
    return proxy.url;
  }

  /** Blocks WebSocket: an nginx that does not forward `Upgrade` stands in front (the common misconfiguration). */
  blockWebSocket(): Promise<string> {
    return this.proxy({ mode: 'strip-upgrade' });
  }

  /**
   * A buffering proxy: nginx ignoring `X-Accel-Buffering: no`, so event-stream bytes wait in its buffers.
   * WebSockets pass unless `websocket: 'strip'`.
   */
  bufferingProxy(options: { websocket?: 'pass' | 'strip' } = {}): Promise<string> {
    return this.proxy({ mode: options.websocket === 'strip' ? 'strip-upgrade' : 'pass', buffering: true });
  }

  /** Upgrade requests the stand-in upstream of an `upgrade-then-drop` or `upgrade-then-silence` proxy completed. */
  droppedUpgrades(): number {
    return this.#proxies.reduce((sum, proxy) => sum + proxy.droppedUpgrades(), 0);
  }

  /** The browser goes offline (Playwright's offline mode: `offline` event, requests fail). */
  async offline(): Promise<void> {
    await this.#context.setOffline(true);
  }

  async online(): Promise<void> {
    await this.#context.setOffline(false);
  }

  /**
   * Every packet between the page and the server vanishes, both ways, without FIN or RST: connections look
   * open to both ends until a heartbeat gives up. `restore()` lets packets through again. Needs root, nftables.
   */
  async silentDrop(): Promise<void> {
    if (this.#drop) return;
    const ports = new Set([portOf(this.target), ...this.#proxies.map((p) => p.port)]);
    this.#drop = dropAllOn([...ports], 'network.silentDrop()');
  }

  async restore(): Promise<void> {
    this.#drop?.remove();
    this.#drop = undefined;
  }

  /** Undoes everything this test set up (called by the fixture). */
  async dispose(): Promise<void> {
    this.#drop?.remove();
    this.#quicBlock?.remove();
    await this.#context.setOffline(false).catch(() => undefined);
    await Promise.all(this.#proxies.map((proxy) => proxy.close()));
  }
}
