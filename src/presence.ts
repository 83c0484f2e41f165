/**
 * What client and server agree a presence member is, and the size rule for the client-supplied `info`: in one
 * runtime-neutral place, so the client refuses an oversize `info` before sending it and the server refuses it
 * with the same code and sentence when another client sends one anyway. See docs/presence.md.
 */
import { SwitchyardError } from './errors.ts';

/** A plain JSON object the client chooses (a display name, an avatar URL, a status). */
export type PresenceInfo = { readonly [key: string]: unknown };

/** One client present on a topic. */
export interface PresenceMember {
  /** One connection: a new id per connection, so a reconnect is a leave and a join. */
  readonly client: string;
  /** The token's subject (who the server authenticated), when the connection carried a token. */
  readonly user?: string;
  readonly info?: PresenceInfo;
}

/** `info` is at most this many bytes as JSON (UTF-8). */
export const MAX_PRESENCE_INFO_BYTES = 512;

const encoder = new TextEncoder();

/** Why `info` cannot be a member's info: the stable code both sides report, and a sentence. */
export interface PresenceInfoProblem {
  readonly code: 'ERR_PRESENCE_INFO_TOO_BIG' | 'ERR_INVALID_ENVELOPE';
  readonly message: string;
}

const invalid = (message: string): PresenceInfoProblem => ({ code: 'ERR_INVALID_ENVELOPE', message });

/** Why `info` cannot be a member's info, or null when it can. */
export function presenceInfoProblem(info: unknown): PresenceInfoProblem | null {
  if (typeof info !== 'object' || info === null || Array.isArray(info)) {
    return invalid('presence info: expected a plain object');
  }
  let json: string;
  try {
    json = JSON.stringify(info);
  } catch {
    return invalid('presence info: not serialisable as JSON');
  }
  const bytes = encoder.encode(json).byteLength;
  return bytes > MAX_PRESENCE_INFO_BYTES
    ? {
        code: 'ERR_PRESENCE_INFO_TOO_BIG',
        message: `presence info: ${bytes} bytes as JSON, at most ${MAX_PRESENCE_INFO_BYTES}`,
      }
    : null;
}

/** Throws the problem's code (ERR_PRESENCE_INFO_TOO_BIG, or ERR_INVALID_ENVELOPE) unless `info` is acceptable. */
export function assertPresenceInfo(info: unknown): asserts info is PresenceInfo {
  const problem = presenceInfoProblem(info);
  if (problem !== null) throw new SwitchyardError(problem.code, problem.message);
}
