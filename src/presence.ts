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

/** Why `info` cannot be a member's info, or null when it can. */
export function presenceInfoProblem(info: unknown): string | null {
  if (typeof info !== 'object' || info === null || Array.isArray(info)) {
    return 'presence info: expected a plain object';
  }
  let json: string;
  try {
    json = JSON.stringify(info);
  } catch {
    return 'presence info: not serialisable as JSON';
  }
  const bytes = encoder.encode(json).byteLength;
  return bytes > MAX_PRESENCE_INFO_BYTES
    ? `presence info: ${bytes} bytes as JSON, at most ${MAX_PRESENCE_INFO_BYTES}`
    : null;
}

/** Throws ERR_PRESENCE_INFO_TOO_BIG (or ERR_INVALID_ENVELOPE for a non-object) unless `info` is acceptable. */
export function assertPresenceInfo(info: unknown): asserts info is PresenceInfo {
  const problem = presenceInfoProblem(info);
  if (problem === null) return;
  throw new SwitchyardError(
    problem.includes('bytes') ? 'ERR_PRESENCE_INFO_TOO_BIG' : 'ERR_INVALID_ENVELOPE',
    problem,
  );
}
