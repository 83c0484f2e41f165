/**
 * The shape of `GET /rt/negotiate`: how any client (ours or an outside tool) discovers what a server offers.
 * Parsed defensively because it crosses a network boundary.
 *
 * URLs in it may be relative (`ws`, `sse`, `../x`): a server behind a reverse proxy cannot know the address
 * the browser used, but the client does (it just fetched negotiate from it), so the client resolves them
 * against the negotiate URL, with the scheme each rung needs (ws/wss for WebSocket, https for WebTransport).
 */
import { SwitchyardError } from './errors.ts';
import type { TransportKind } from './transport.ts';

export interface CertificateHash {
  algorithm: 'sha-256';
  /** base64 of the DER certificate's SHA-256. */
  value: string;
}

export type OfferedTransport =
  | { kind: 'websocket'; url: string }
  | { kind: 'sse'; url: string; postUrl: string }
  | { kind: 'webtransport'; url: string; certificateHashes?: CertificateHash[] };

export interface NegotiateResponse {
  transports: OfferedTransport[];
  heartbeatMs: number;
  maxMessageBytes: number;
  /** Present when the server requires tokens: POST here from an allowed origin returns `{ token }`. */
  tokenUrl?: string;
  /**
   * Present when the server limits the messages a connection may send (token bucket): a client that sends
   * faster is closed with RateLimited (4029). Our client paces itself below it.
   */
  rate?: MessageRate;
}

export interface MessageRate {
  readonly messagesPerSecond: number;
  readonly burst: number;
}

/** Every rung's kind, for validating what a peer names. */
export const KINDS: readonly string[] = ['webtransport', 'websocket', 'sse'];

/** Schemes each rung may be offered with; http(s) URLs are mapped to the rung's own scheme. */
const SCHEMES: Record<TransportKind | 'token', Record<string, string>> = {
  websocket: { 'ws:': 'ws:', 'wss:': 'wss:', 'http:': 'ws:', 'https:': 'wss:' },
  sse: { 'http:': 'http:', 'https:': 'https:' },
  webtransport: { 'https:': 'https:', 'http:': 'https:' },
  token: { 'http:': 'http:', 'https:': 'https:' },
};

/** Keeps the SSE `{session}` placeholder readable after URL resolution percent-encodes its braces. */
const SESSION = '{session}';

function bad(what: string): never {
  throw new SwitchyardError('ERR_NEGOTIATION_FAILED', `negotiate response: ${what}`);
}

/**
 * Resolves one offered URL against the negotiate URL (absolute URLs are kept) and gives it the rung's
 * scheme. Throws for a URL that cannot be resolved or whose scheme the rung cannot use.
 */
export function resolveOfferUrl(kind: TransportKind | 'token', raw: string, base?: string): string {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    bad(`${kind} URL ${JSON.stringify(raw.slice(0, 100))} is not ${base ? 'a URL' : 'absolute'}`);
  }
  const scheme = SCHEMES[kind][url.protocol];
  if (!scheme) bad(`${kind} URL scheme ${url.protocol} is not usable for this rung`);
  if (url.username || url.password) bad(`${kind} URL carries credentials`);
  url.protocol = scheme;
  return url.href.replaceAll(encodeURI(SESSION), SESSION);
}

const positive = (value: unknown) => typeof value === 'number' && value > 0;

/**
 * Validates a negotiate response. `negotiateUrl` is the URL it was fetched from: relative URLs in it are
 * resolved against that; without it, every URL must be absolute.
 */
export function parseNegotiateResponse(value: unknown, negotiateUrl?: string): NegotiateResponse {
  const v = (value ?? 0) as Record<string, unknown>;
  if (!Array.isArray(v.transports)) bad('transports: expected an array');
  if (!positive(v.heartbeatMs)) bad('heartbeatMs: expected a positive number');
  if (!positive(v.maxMessageBytes)) bad('maxMessageBytes: expected a positive number');
  const transports: OfferedTransport[] = [];
  for (const entry of v.transports as Record<string, unknown>[]) {
    // A newer server may offer rungs we do not know.
    if (!KINDS.includes(entry?.kind as string)) continue;
    const kind = entry.kind as TransportKind;
    const resolve = (field: string) =>
      typeof entry[field] === 'string'
        ? resolveOfferUrl(kind, entry[field], negotiateUrl)
        : bad(`transports[${kind}].${field}: expected a string`);
    transports.push({
      ...entry,
      url: resolve('url'),
      ...(kind === 'sse' ? { postUrl: resolve('postUrl') } : {}),
    } as OfferedTransport);
  }
  const out: NegotiateResponse = {
    transports,
    heartbeatMs: v.heartbeatMs as number,
    maxMessageBytes: v.maxMessageBytes as number,
  };
  if (typeof v.tokenUrl === 'string') out.tokenUrl = resolveOfferUrl('token', v.tokenUrl, negotiateUrl);
  const rate = v.rate as Record<string, number> | undefined;
  if (rate !== undefined) {
    if (!positive(rate?.messagesPerSecond) || !((rate?.burst as number) >= 1)) {
      bad('rate: expected { messagesPerSecond > 0, burst >= 1 }');
    }
    out.rate = { messagesPerSecond: rate.messagesPerSecond as number, burst: rate.burst as number };
  }
  return out;
}
