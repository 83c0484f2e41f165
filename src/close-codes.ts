/**
 * Named close codes shared by every rung, each with the decision a client makes when it sees it.
 * One table, so that the client, the server and the docs can never disagree about what a code means.
 * WebSocket carries the code natively; SSE and WebTransport carry the same numbers in their own close signals.
 *
 * Browser bundles carry only the names and the retry decisions; the sentence explaining each decision lives in
 * ./close-code-reasons.ts, which servers, logs and docs use through `closeCodeInfo` (a client that never
 * calls it leaves the texts out).
 */
import { CLOSE_CODE_WHY } from './close-code-reasons.ts';

export const CloseCode = {
  /** The side that closed meant to: no reconnect. */
  Normal: 1000,
  /** Server shutting down or page leaving: reconnect (to another node). */
  GoingAway: 1001,
  /** The peer broke the framing rules of the rung: do not retry, it will happen again. */
  ProtocolError: 1002,
  /** A frame type the endpoint does not accept (e.g. binary where only text is allowed). */
  UnsupportedData: 1003,
  /** The connection dropped without a close handshake (never sent on the wire). */
  Abnormal: 1006,
  /** Text that is not valid UTF-8. */
  InvalidPayload: 1007,
  /** Generic policy refusal. */
  PolicyViolation: 1008,
  /** A message over `maxMessageBytes`. */
  MessageTooBig: 1009,
  /** The server failed; a retry may succeed. */
  InternalError: 1011,
  /** The server restarts; reconnect soon. */
  ServiceRestart: 1012,
  /** Overloaded; reconnect later with backoff. */
  TryAgainLater: 1013,
  /** No heartbeat answer within the allowed time. */
  HeartbeatTimeout: 4000,
  /** Missing, forged or replayed token. */
  Unauthorized: 4001,
  /** Token expired: fetch a fresh one and retry. */
  TokenExpired: 4002,
  /** Origin not on the allow-list. */
  ForbiddenOrigin: 4003,
  /** An envelope that does not parse or validate. */
  BadEnvelope: 4004,
  /** The client stopped reading and the server's bounded queue for it filled up. */
  SlowConsumer: 4008,
  /** A newer connection of the same session took over. */
  Replaced: 4009,
  /** Unknown or expired session (SSE upstream, resume). */
  UnknownSession: 4010,
  /** Per-connection or per-IP message rate exceeded. */
  RateLimited: 4029,
  /** Too many connections from this IP. */
  TooManyConnections: 4030,
} as const;

export type CloseCodeName = keyof typeof CloseCode;

/** What a client does after a close with this code. */
export type RetryDecision = 'never' | 'retry';

export interface CloseCodeInfo {
  readonly name: CloseCodeName | 'Unknown';
  readonly retry: RetryDecision;
  /** Why this decision: a fatal code would fail again on retry; a retryable one is about time or place. */
  readonly why: string;
}

/**
 * The fatal codes: retrying would fail the same way (wrong credentials, origin, protocol; an intended close;
 * a newer connection alive). Every other code, including unknown ones, is about time or place: retry.
 */
const FATAL: readonly number[] = [1000, 1002, 1003, 1007, 1008, 4001, 4003, 4004, 4009];

/** The code's name ('Unknown' for codes this version does not know). */
export function closeCodeName(code: number): CloseCodeName | 'Unknown' {
  for (const name in CloseCode) if (CloseCode[name as CloseCodeName] === code) return name as CloseCodeName;
  return 'Unknown';
}

/** The decision for any code, including codes this version does not know (treated as retryable). */
export function isRetryable(code: number): boolean {
  return !FATAL.includes(code);
}

/** Name, decision and the sentence explaining it (servers, logs, docs; browser clients use the two above). */
export function closeCodeInfo(code: number): CloseCodeInfo {
  const name = closeCodeName(code);
  return { name, retry: isRetryable(code) ? 'retry' : 'never', why: CLOSE_CODE_WHY[name] };
}

/** Codes an application may send in a close frame (RFC 6455 section 7.4: 1000 and 3000-4999 plus the registered ones). */
export function isSendableCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 3000 && code <= 4999) return true;
  return (
    code === 1000 ||
    code === 1001 ||
    (code >= 1007 && code <= 1014 && code !== 1010) ||
    code === 1002 ||
    code === 1003
  );
}

const encoder = /* @__PURE__ */ new TextEncoder();
/** RFC 6455 limits a close reason to 123 bytes of UTF-8; cut on a character boundary. */
export function capCloseReason(reason: string, maxBytes = 123): string {
  if (encoder.encode(reason).byteLength <= maxBytes) return reason;
  let out = '';
  let bytes = 0;
  for (const ch of reason) {
    const n = encoder.encode(ch).byteLength;
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}
