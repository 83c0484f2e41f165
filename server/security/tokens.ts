/**
 * Short-lived, single-use connection tokens: HMAC-SHA256 over { subject, origin, expiry, id } with WebCrypto
 * (Node and Deno alike). A token proves that a page on an allowed origin asked for it moments ago; the replay
 * record (./replay.ts: this process's memory, or Redis shared by every node) makes a captured token (from a
 * URL in some log) useless after its first use, on whichever node it is presented.
 */

import type { Refusal } from '../../src/admission.ts';
import { base64urlToBytes, bytesToBase64url } from '../../src/base64.ts';
import { CloseCode } from '../../src/close-codes.ts';
import { MemoryReplayStore, type ReplayStore } from './replay.ts';

export interface TokenClaims {
  readonly sub: string;
  readonly org: string | null;
  /** Expiry, seconds since the epoch. */
  readonly exp: number;
  /** Unique id, for the replay cache. */
  readonly jti: string;
}

export interface TokenOptions {
  /** HMAC key; default: random per process (tokens then only work on the node that issued them). */
  readonly secret?: Uint8Array;
  /** Lifetime in seconds (default 30). */
  readonly ttlSeconds?: number;
  /** Replay cache bound (default 100,000 entries; entries leave when their token expires). */
  readonly maxReplayEntries?: number;
  /**
   * Where spent tokens are recorded. Default: this process's memory (`maxReplayEntries`). Several nodes that
   * verify each other's tokens (a shared `secret`) need a shared record, or a token spent on one node is
   * accepted again on another: the Redis engine's `replay` (server/redis/replay.ts).
   */
  readonly replay?: ReplayStore;
  readonly now?: () => number;
}

const encoder = new TextEncoder();

export const tokenRefusals = {
  invalid: (message: string): Refusal => ({
    status: 401,
    closeCode: CloseCode.Unauthorized,
    code: 'ERR_UNAUTHORIZED',
    message,
  }),
  expired: (): Refusal => ({
    status: 401,
    closeCode: CloseCode.TokenExpired,
    code: 'ERR_TOKEN_EXPIRED',
    message: 'token expired: fetch a fresh one',
  }),
};

export class TokenAuthority {
  readonly ttlSeconds: number;
  readonly #key: Promise<CryptoKey>;
  readonly #replay: ReplayStore;
  readonly #now: () => number;

  constructor(options: TokenOptions = {}) {
    this.ttlSeconds = options.ttlSeconds ?? 30;
    this.#now = options.now ?? Date.now;
    this.#replay =
      options.replay ?? new MemoryReplayStore({ maxEntries: options.maxReplayEntries, now: this.#now });
    const secret = options.secret ?? crypto.getRandomValues(new Uint8Array(32));
    this.#key = crypto.subtle.importKey(
      'raw',
      secret as Uint8Array<ArrayBuffer>,
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    );
  }

  async issue(subject: string, origin: string | null): Promise<string> {
    const claims: TokenClaims = {
      sub: subject,
      org: origin,
      exp: Math.floor(this.#now() / 1000) + this.ttlSeconds,
      jti: bytesToBase64url(crypto.getRandomValues(new Uint8Array(12))),
    };
    const body = bytesToBase64url(encoder.encode(JSON.stringify(claims)));
    const signature = new Uint8Array(await crypto.subtle.sign('HMAC', await this.#key, encoder.encode(body)));
    return `${body}.${bytesToBase64url(signature)}`;
  }

  /** Verifies and consumes a token. `origin`: the request's Origin where the rung shows it (null: unknown). */
  async verify(token: string | undefined | null, origin: string | null): Promise<TokenClaims | Refusal> {
    if (!token) return tokenRefusals.invalid('missing token');
    const dot = token.indexOf('.');
    if (dot < 0 || token.length > 2048) return tokenRefusals.invalid('malformed token');
    const body = token.slice(0, dot);
    let signature: Uint8Array;
    let claims: TokenClaims;
    try {
      signature = base64urlToBytes(token.slice(dot + 1));
      const ok = await crypto.subtle.verify(
        'HMAC',
        await this.#key,
        signature as Uint8Array<ArrayBuffer>,
        encoder.encode(body),
      );
      if (!ok) return tokenRefusals.invalid('bad token signature');
      claims = JSON.parse(new TextDecoder().decode(base64urlToBytes(body))) as TokenClaims;
    } catch {
      return tokenRefusals.invalid('malformed token');
    }
    const nowSeconds = Math.floor(this.#now() / 1000);
    if (claims.exp < nowSeconds) return tokenRefusals.expired();
    if (origin !== null && claims.org !== null && claims.org !== origin) {
      return tokenRefusals.invalid('token was issued to another origin');
    }
    // Valid through the whole second `exp`: the record must outlive that.
    const spent = await this.#replay.spend(claims.jti, (claims.exp + 1) * 1000);
    if (spent === false) return tokenRefusals.invalid('token already used (replay)');
    if (spent !== true) return spent;
    return claims;
  }
}

export function isRefusal(value: TokenClaims | Refusal): value is Refusal {
  return 'closeCode' in value;
}
