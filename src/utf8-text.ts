/**
 * Text a server already has as UTF-8 bytes, in pieces that make one text message: the outgoing counterpart of a
 * received message's `utf8` (src/transport.ts). A large JSON `pub` keeps its `data` as the bytes it arrived in
 * (RawJson); delivering it as a string cost a decode, then the rung counted and encoded that string's UTF-8
 * again (`Buffer.byteLength` alone was a fifth of the server's CPU on a 64 KiB delivery). A rung that can write
 * bytes as a text message (the Node WebSocket rung) sends the pieces as they are; the others read `text()`,
 * decoded once for all the subscribers the message goes to.
 */
import type { Payload } from './transport.ts';
import { decodeValidUtf8 } from './utf8.ts';

export class Utf8Text {
  /** Valid UTF-8 as a whole (each piece ends on a character boundary). Must not be changed once sent. */
  readonly parts: readonly Uint8Array[];
  readonly byteLength: number;
  #text: string | undefined;

  constructor(parts: readonly Uint8Array[]) {
    this.parts = parts;
    let bytes = 0;
    for (const part of parts) bytes += part.byteLength;
    this.byteLength = bytes;
  }

  /** The text, decoded on the first call and kept (the same message may go to many connections). */
  text(): string {
    if (this.#text === undefined) this.#text = decodeValidUtf8(this.bytes());
    return this.#text;
  }

  /** The pieces as one array (the only piece itself when there is one). */
  bytes(): Uint8Array {
    if (this.parts.length === 1) return this.parts[0] as Uint8Array;
    const out = new Uint8Array(this.byteLength);
    let at = 0;
    for (const part of this.parts) {
      out.set(part, at);
      at += part.byteLength;
    }
    return out;
  }
}

/** What a server can send: a payload, or text as UTF-8 pieces. */
export type OutgoingPayload = Payload | Utf8Text;
