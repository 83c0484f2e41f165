/**
 * One error type with a stable string code, so that apps branch on `err.code` and never on message text.
 * Where an error ends a connection, `closeCode` says which code the peer is sent.
 */

export type ErrorCode =
  | 'ERR_NOT_OPEN'
  | 'ERR_CLOSED'
  | 'ERR_TIMEOUT'
  | 'ERR_MESSAGE_TOO_BIG'
  | 'ERR_DATAGRAM_TOO_BIG'
  | 'ERR_DATAGRAMS_UNSUPPORTED'
  | 'ERR_INVALID_CHANNEL'
  | 'ERR_INVALID_FRAME'
  | 'ERR_INVALID_ENVELOPE'
  | 'ERR_INVALID_UTF8'
  | 'ERR_INVALID_CLOSE_CODE'
  | 'ERR_VALIDATION'
  | 'ERR_BUFFER_FULL'
  | 'ERR_FORBIDDEN_ORIGIN'
  | 'ERR_UNAUTHORIZED'
  | 'ERR_TOKEN_EXPIRED'
  | 'ERR_RATE_LIMITED'
  | 'ERR_NEGOTIATION_FAILED'
  | 'ERR_TRANSPORT'
  | 'ERR_UNSUPPORTED'
  /** A backend the server needs (its Redis) is unreachable or too slow; nothing was applied: retry later (1013). */
  | 'ERR_UNAVAILABLE'
  /** A server setting (option or environment variable) is malformed; thrown at start-up, never at runtime. */
  | 'ERR_INVALID_OPTION'
  /** The server refused one operation (its own code is in the error envelope); the connection stays up. */
  | 'ERR_REJECTED'
  /** A presence `info` object is larger than MAX_PRESENCE_INFO_BYTES as JSON (src/presence.ts). */
  | 'ERR_PRESENCE_INFO_TOO_BIG'
  /** The client stopped retrying: a fatal close code, or `backoff.maxAttempts` failed rounds. */
  | 'ERR_DISCONNECTED';

export class SwitchyardError extends Error {
  override readonly name = 'SwitchyardError';
  readonly code: ErrorCode;
  /** The close code to send (or that was received) when this error ends a connection. */
  readonly closeCode: number | undefined;

  constructor(code: ErrorCode, message: string, options: { closeCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.closeCode = options.closeCode;
  }
}

export function isSwitchyardError(value: unknown, code?: ErrorCode): value is SwitchyardError {
  return value instanceof SwitchyardError && (code === undefined || value.code === code);
}
