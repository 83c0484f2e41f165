/**
 * Redis Cluster's key -> slot mapping (CRC16-XMODEM of the key's hash tag, modulo 16384), computed here so a
 * node knows which shard serves a channel without asking: sharded pub/sub must subscribe on the shard that
 * owns the channel's slot, and a shard's outage must be charged to exactly the topics it serves.
 */
import { createHash } from 'node:crypto';

export const SLOTS = 16384;

const TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let crc = i << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  TABLE[i] = crc;
}

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ byte) & 0xff] as number);
  return crc;
}

/** The slot Redis Cluster puts `key` in: only the first non-empty `{...}` part counts when there is one. */
export function keySlot(key: string | Uint8Array): number {
  const bytes = typeof key === 'string' ? Buffer.from(key) : key;
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(bytes.subarray(open + 1, close)) % SLOTS;
  }
  return crc16(bytes) % SLOTS;
}

/**
 * The hash tag for a name (a topic, a session): the name itself, so keys stay readable, unless Redis would not
 * read it as a tag (empty, or starting with `}`), then a digest of it. Every key built as `...{<tag>}...`
 * with the same tag lands in one slot, which is what lets one script touch them all.
 */
export function hashTag(name: string): string {
  return name === '' || name.startsWith('}')
    ? `#${createHash('sha1').update(name).digest('base64url')}`
    : name;
}
