/**
 * The shape of `GET /rt/negotiate`: how any client (ours or an outside tool) discovers what a server offers.
 * Parsed defensively because it crosses a network boundary.
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

const KINDS: readonly TransportKind[] = ['webtransport', 'websocket', 'sse'];

export function parseNegotiateResponse(value: unknown): NegotiateResponse {
  const bad = (what: string): never => {
    throw new SwitchyardError('ERR_NEGOTIATION_FAILED', `negotiate response: ${what}`);
  };
  if (typeof value !== 'object' || value === null) bad('expected an object');
  const v = value as Record<string, unknown>;
  if (!Array.isArray(v.transports)) bad('transports: expected an array');
  if (typeof v.heartbeatMs !== 'number' || v.heartbeatMs <= 0) bad('heartbeatMs: expected a positive number');
  if (typeof v.maxMessageBytes !== 'number' || v.maxMessageBytes <= 0)
    bad('maxMessageBytes: expected a positive number');
  const transports: OfferedTransport[] = [];
  for (const t of v.transports as unknown[]) {
    if (typeof t !== 'object' || t === null) bad('transports[]: expected objects');
    const entry = t as Record<string, unknown>;
    if (!KINDS.includes(entry.kind as TransportKind)) continue; // a newer server may offer rungs we do not know
    if (typeof entry.url !== 'string') bad(`transports[${String(entry.kind)}].url: expected a string`);
    if (entry.kind === 'sse' && typeof entry.postUrl !== 'string')
      bad('transports[sse].postUrl: expected a string');
    transports.push(entry as unknown as OfferedTransport);
  }
  const out: NegotiateResponse = {
    transports,
    heartbeatMs: v.heartbeatMs as number,
    maxMessageBytes: v.maxMessageBytes as number,
  };
  if (typeof v.tokenUrl === 'string') out.tokenUrl = v.tokenUrl;
  const rate = v.rate as Record<string, unknown> | undefined;
  if (rate !== undefined) {
    if (
      typeof rate !== 'object' ||
      rate === null ||
      typeof rate.messagesPerSecond !== 'number' ||
      !(rate.messagesPerSecond > 0) ||
      typeof rate.burst !== 'number' ||
      !(rate.burst >= 1)
    ) {
      bad('rate: expected { messagesPerSecond > 0, burst >= 1 }');
    }
    out.rate = { messagesPerSecond: rate.messagesPerSecond as number, burst: rate.burst as number };
  }
  return out;
}
