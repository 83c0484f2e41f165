/**
 * A large text message that a rung received as UTF-8 bytes and validated itself (Node's WebSocket rung; the
 * WebTransport rung where the runtime has a fast UTF-8 check): `data` is decoded on its first read, if any, and
 * `utf8` lets a reader that works on bytes (the protocol's JSON codec) never make a string of it.
 */
import type { MessageEvent } from './transport.ts';
import { decodeValidUtf8 } from './utf8.ts';

/**
 * From this size on, a rung that can validate UTF-8 without decoding (Node's WebSocket rung, whose `ws` has checked
 * the frame; the WebTransport rung on Node and Deno) hands text over as bytes: below it a string
 * costs little, and the JSON codec keeps `data` as bytes only from its RAW_JSON_MIN_BYTES (16 KiB) on anyway.
 */
export const LAZY_TEXT_MIN_BYTES = 16 * 1024;

export class LazyTextEvent implements MessageEvent {
  readonly utf8: Uint8Array;
  readonly channel: string;
  readonly unreliable = false;
  #data: string | undefined;

  /** `utf8` must be valid UTF-8 (checked by the caller) and must not change afterwards. */
  constructor(utf8: Uint8Array, channel: string) {
    this.utf8 = utf8;
    this.channel = channel;
  }

  get data(): string {
    // biome-ignore lint/suspicious/noAssignInExpressions: decoded once, on the first read
    return (this.#data ??= decodeValidUtf8(this.utf8));
  }
}
