/**
 * The application protocol spoken over any rung: a discriminated union on `type`, parsed and validated
 * in exactly one place (`parseEnvelope`). Errors say what was expected and what arrived, so a broken peer
 * can be debugged from one log line. See docs/protocol.md.
 */
import { CloseCode } from './close-codes.ts';
import { SwitchyardError } from './errors.ts';
import type { PresenceInfo, PresenceMember } from './presence.ts';

export const PROTOCOL_VERSION = 1;

/** Client -> server: first message on every connection. */
export interface HelloEnvelope {
  type: 'hello';
  v: number;
  /** Short-lived token, where the rung lets it travel in the first message. */
  token?: string;
  /** Session to resume (at-least-once dedup of upstream messages lives in the session). */
  session?: string;
  /** Last sequence seen per topic; the server replays what came after or sends `reset`. */
  resume?: Record<string, number>;
  /**
   * Streams the server may use towards this client for topics, on rungs with independent streams
   * (WebTransport over HTTP/3); 0: everything on one stream. Default: the server's own maximum.
   */
  lanes?: number;
  /**
   * The rungs this client gave up before this connection, `kind:reason` pairs joined by commas (e.g.
   * `webtransport:timeout`): counted by the server's metrics (src/fallback-report.ts). Optional, informative.
   */
  fallback?: string;
}
/** Server -> client: answer to hello. */
export interface WelcomeEnvelope {
  type: 'welcome';
  session: string;
  heartbeatMs: number;
  maxMessageBytes: number;
  resumed: boolean;
}
export interface PingEnvelope {
  type: 'ping';
  id: number;
}
export interface PongEnvelope {
  type: 'pong';
  id: number;
}
/** Client -> server: follow a topic, optionally from a sequence. */
export interface SubscribeEnvelope {
  type: 'sub';
  topic: string;
  since?: number;
  /**
   * The topic's epoch that `since` belongs to (from a `reset`). A topic whose history was lost since then (a
   * restart without persistence, an evicted or expired topic) has a new epoch: the server answers with a
   * `reset` instead of continuing from `since` in a different history.
   */
  epoch?: string;
  /** Follow the topic's presence: `join` and `leave` for this topic (where the app lets this client read it). */
  presence?: boolean;
  /** This client's presence info on the topic (a plain object, at most MAX_PRESENCE_INFO_BYTES as JSON). */
  info?: PresenceInfo;
}
export interface UnsubscribeEnvelope {
  type: 'unsub';
  topic: string;
}
/** Client -> server app message; `id` is the client's message id for at-least-once + dedup. */
export interface PublishEnvelope {
  type: 'pub';
  id: string;
  topic?: string;
  data: unknown;
}
/** Client -> server unreliable message: no id, no ack, no sequence, no history; may be dropped anywhere. */
export interface VolatilePublishEnvelope {
  type: 'vpub';
  topic: string;
  data: unknown;
}
/** Server -> client unreliable message (a `vpub` or a server-side volatile publish): no sequence, never replayed. */
export interface VolatileMessageEnvelope {
  type: 'vmsg';
  topic: string;
  data: unknown;
}
/** Server -> client: the `pub` with this id was accepted (duplicates are acked again, not re-applied). */
export interface AckEnvelope {
  type: 'ack';
  id: string;
}
/** Server -> client app message with its per-topic sequence. */
export interface MessageEnvelope {
  type: 'msg';
  topic: string;
  seq: number;
  data: unknown;
}
/** Server -> client: history cannot fill the gap; the app must re-sync `topic` from `seq`. */
export interface ResetEnvelope {
  type: 'reset';
  topic: string;
  seq: number;
  reason: string;
  /** The topic's epoch: send it back with `since` when resuming. */
  epoch?: string;
}
export interface ErrorEnvelope {
  type: 'error';
  code: string;
  message: string;
  /** The id of the `pub` this error is about, if any. */
  ref?: string;
  /** Milliseconds after which a retry may succeed (rate limits). */
  retryAfterMs?: number;
}

/** Client -> server: who is present on `topic`? Answered by `members` (or `error` with `ref` = `id`). */
export interface PresenceEnvelope {
  type: 'presence';
  id: string;
  topic: string;
}
/** Server -> client: the answer to the `presence` request `id`. */
export interface MembersEnvelope {
  type: 'members';
  id: string;
  topic: string;
  clients: PresenceMember[];
}
/** Server -> client: a client became present on a topic this client follows the presence of. */
export interface JoinEnvelope {
  type: 'join';
  topic: string;
  client: PresenceMember;
}
/** Server -> client: a client left (unsubscribed, closed, or its node died). */
export interface LeaveEnvelope {
  type: 'leave';
  topic: string;
  client: PresenceMember;
}

export type Envelope =
  | HelloEnvelope
  | WelcomeEnvelope
  | PingEnvelope
  | PongEnvelope
  | SubscribeEnvelope
  | UnsubscribeEnvelope
  | PublishEnvelope
  | VolatilePublishEnvelope
  | AckEnvelope
  | MessageEnvelope
  | VolatileMessageEnvelope
  | ResetEnvelope
  | ErrorEnvelope
  | PresenceEnvelope
  | MembersEnvelope
  | JoinEnvelope
  | LeaveEnvelope;

export type EnvelopeType = Envelope['type'];

/**
 * Each type's fields as `name:kind`, `?` marking optional ones. Kinds: s string (at most MAX_STRING_FIELD
 * characters), u non-negative safe integer, b boolean, a any value but undefined, r object of topic -> u,
 * o plain object, m presence member (`client` s, `user?` s, `info?` o), l array of m. Exported for the test
 * that keeps docs/protocol.md's table true.
 */
export const SHAPES: Readonly<Record<EnvelopeType, string>> = {
  hello: 'v:u token?:s session?:s resume?:r lanes?:u fallback?:s',
  welcome: 'session:s heartbeatMs:u maxMessageBytes:u resumed:b',
  ping: 'id:u',
  pong: 'id:u',
  sub: 'topic:s since?:u epoch?:s presence?:b info?:o',
  unsub: 'topic:s',
  pub: 'id:s topic?:s data:a',
  vpub: 'topic:s data:a',
  ack: 'id:s',
  msg: 'topic:s seq:u data:a',
  vmsg: 'topic:s data:a',
  reset: 'topic:s seq:u reason:s epoch?:s',
  error: 'code:s message:s ref?:s retryAfterMs?:u',
  presence: 'id:s topic:s',
  members: 'id:s topic:s clients:l',
  join: 'topic:s client:m',
  leave: 'topic:s client:m',
};

/** The fields of each type, computed once: parsing runs on every message the server receives. */
interface Field {
  readonly name: string;
  readonly kind: string;
  readonly optional: boolean;
}
const FIELDS = new Map<string, readonly Field[]>();
for (const [type, spec] of Object.entries(SHAPES)) {
  FIELDS.set(
    type,
    spec.split(' ').map((field) => {
      const [name, kind] = field.split(':') as [string, string];
      const optional = name.endsWith('?');
      return { name: optional ? name.slice(0, -1) : name, kind, optional };
    }),
  );
}

/** Longest string field of an envelope (a topic, an id); the server API holds topics to the same bound. */
export const MAX_STRING_FIELD = 4096;
const MAX_RESUME_TOPICS = 1024;

const EXPECTED: Record<string, string> = {
  s: 'string',
  u: 'non-negative integer',
  b: 'boolean',
  r: `object of at most ${MAX_RESUME_TOPICS} topic -> non-negative integer`,
  o: 'plain object',
  m: 'presence member { client: string, user?: string, info?: object }',
  l: 'array of presence members',
};

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string')
    return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  return typeof value;
}

function fail(message: string): never {
  throw new SwitchyardError('ERR_INVALID_ENVELOPE', message, { closeCode: CloseCode.BadEnvelope });
}

const isUint = (value: unknown): boolean =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isString = (value: unknown): boolean => typeof value === 'string' && value.length <= MAX_STRING_FIELD;

function isMember(value: unknown): boolean {
  return (
    isObject(value) &&
    isString(value.client) &&
    (value.user === undefined || isString(value.user)) &&
    (value.info === undefined || isObject(value.info))
  );
}

/** Whether a present value is of its field's kind; 'a' (any) is every present value. */
function valid(kind: string, value: unknown): boolean {
  switch (kind) {
    case 's':
      return isString(value);
    case 'u':
      return isUint(value);
    case 'b':
      return typeof value === 'boolean';
    case 'r': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
      let topics = 0;
      for (const topic in value) {
        if (++topics > MAX_RESUME_TOPICS || !isUint((value as Record<string, unknown>)[topic])) return false;
      }
      return true;
    }
    case 'o':
      return isObject(value);
    case 'm':
      return isMember(value);
    case 'l':
      return Array.isArray(value) && value.every(isMember);
    default:
      return true;
  }
}

/** Validates an already-decoded value. The only way a value becomes an `Envelope`. */
export function parseEnvelope(value: unknown): Envelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(`envelope: expected object, got ${describeValue(value)}`);
  }
  const record = value as Record<string, unknown>;
  const type = record.type;
  const fields = typeof type === 'string' ? FIELDS.get(type) : undefined;
  if (!fields)
    fail(`envelope.type: expected one of ${[...FIELDS.keys()].join('|')}, got ${describeValue(type)}`);
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    const fieldValue = record[field.name];
    if (fieldValue === undefined) {
      if (!field.optional) fail(`${type}.${field.name}: missing`);
    } else if (!valid(field.kind, fieldValue)) {
      fail(
        typeof fieldValue === 'string' && field.kind === 's'
          ? `${type}.${field.name}: string longer than ${MAX_STRING_FIELD}`
          : `${type}.${field.name}: expected ${EXPECTED[field.kind]}, got ${describeValue(fieldValue)}`,
      );
    }
  }
  return record as unknown as Envelope;
}
