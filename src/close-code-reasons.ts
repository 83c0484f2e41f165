/**
 * The sentence behind each close code's retry decision, for servers, logs and docs (docs/protocol.md's table
 * is checked against it). Kept apart from ./close-codes.ts so that browser bundles, which need only the
 * names and decisions, do not carry these texts.
 */
import type { CloseCodeName } from './close-codes.ts';

export const CLOSE_CODE_WHY: Readonly<Record<CloseCodeName | 'Unknown', string>> = {
  Normal: 'the close was intended',
  GoingAway: 'the server is shutting down; another node or the restarted one will serve',
  ProtocolError: 'a framing bug repeats on every attempt',
  UnsupportedData: 'the same data would be refused again',
  Abnormal: 'the network dropped the connection (never sent on the wire)',
  InvalidPayload: 'invalid UTF-8; retrying repeats it',
  PolicyViolation: 'the server refuses this client by policy',
  MessageTooBig: 'the oversize message is dropped; the connection can be re-established',
  InternalError: 'a server fault may be transient',
  ServiceRestart: 'the server comes back shortly',
  TryAgainLater: 'overload passes; back off',
  HeartbeatTimeout: 'the path died silently; a new connection may take another path',
  Unauthorized: 'the same credentials would be refused again',
  TokenExpired: 'a fresh token fixes it',
  ForbiddenOrigin: 'the page origin will not change by retrying',
  BadEnvelope: 'the client speaks a protocol the server does not',
  SlowConsumer: 'reconnecting resumes from history once the client reads again',
  Replaced: 'a newer connection of this session is alive',
  UnknownSession: 'a new session can be opened',
  RateLimited: 'the bucket refills; back off',
  TooManyConnections: 'another connection may close; back off',
  Unknown: 'unknown code: assume the condition is transient',
};
