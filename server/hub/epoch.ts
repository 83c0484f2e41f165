/** A topic epoch: names one continuous history of a topic's sequence numbers (random, 64 bits, URL-safe). */
import { bytesToBase64url } from '../../src/base64.ts';

export function newEpoch(): string {
  return bytesToBase64url(crypto.getRandomValues(new Uint8Array(8)));
}
