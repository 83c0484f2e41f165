/**
 * Which stream a topic travels on. On a rung with independent streams (WebTransport over HTTP/3) each topic
 * gets a lane of its own, so a lost packet or a full flow-control window on one topic never holds up another;
 * control traffic (hello, ping, errors about the connection) stays on the default channel, apart from data.
 *
 * Lanes are bounded because every one is a QUIC stream that stays open for the connection's life and peers cap
 * concurrent streams (Firefox's limit is the lowest we met). The first `max` topics a side sends get lanes of
 * their own, in the order it first sends them; later topics share lanes by a hash of their name. Each side
 * keeps its own map for what it sends: receivers need none, since every envelope names its topic, and a topic
 * always maps to the same lane for the life of a connection, which is what keeps its messages in order.
 */
import { DEFAULT_CHANNEL } from './transport.ts';

/** Lanes per direction unless the app says otherwise: enough for the common "a few busy topics" case. */
export const DEFAULT_MAX_LANES = 16;
/** Upper bound a peer may ask for (`hello.lanes`): streams are a shared, capped resource. */
export const MAX_LANES = 64;

export class LaneMap {
  readonly #max: number;
  #own: Map<string, string> | undefined;

  /** `max` 0 puts every topic on the default channel (one ordered stream, like WebSocket). */
  constructor(max: number) {
    this.#max = Math.max(0, Math.min(MAX_LANES, Math.floor(max)));
  }

  get max(): number {
    return this.#max;
  }

  channelFor(topic: string | undefined): string {
    if (this.#max === 0 || topic === undefined) return DEFAULT_CHANNEL;
    this.#own ??= new Map();
    const own = this.#own.get(topic);
    if (own !== undefined) return own;
    if (this.#own.size < this.#max) {
      const lane = laneName(this.#own.size);
      this.#own.set(topic, lane);
      return lane;
    }
    // Not remembered: the map stays bounded however many topics a connection touches.
    return laneName(hash(topic) % this.#max);
  }
}

function laneName(index: number): string {
  return `t${index}`;
}

/** FNV-1a over UTF-16 units: stable across runtimes, cheap, well spread for short names. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
