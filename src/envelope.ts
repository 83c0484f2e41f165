/**
 * The application protocol spoken over any rung: a discriminated union on `type`, parsed and validated
 * in exactly one place (`parseEnvelope`). Errors say what was expected and what arrived, so a broken peer
 * can be debugged from one log line. See docs/protocol.md.
 */
import { CloseCode } from './close-codes.ts';
import { SwitchyardError } from './errors.ts';

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
  | ErrorEnvelope;

export type EnvelopeType = Envelope['type'];

type FieldKind = 'string' | 'number' | 'uint' | 'boolean' | 'any' | 'record-uint';
type Shape = Record<string, { kind: FieldKind; optional?: boolean }>;

const req = (kind: FieldKind) => ({ kind });
const opt = (kind: FieldKind) => ({ kind, optional: true });

const shapes: Record<EnvelopeType, Shape> = {
  hello: {
    v: req('uint'),
    token: opt('string'),
    session: opt('string'),
    resume: opt('record-uint'),
    lanes: opt('uint'),
  },
  welcome: {
    session: req('string'),
    heartbeatMs: req('uint'),
    maxMessageBytes: req('uint'),
    resumed: req('boolean'),
  },
  ping: { id: req('uint') },
  pong: { id: req('uint') },
  sub: { topic: req('string'), since: opt('uint') },
  unsub: { topic: req('string') },
  pub: { id: req('string'), topic: opt('string'), data: req('any') },
  vpub: { topic: req('string'), data: req('any') },
  ack: { id: req('string') },
  msg: { topic: req('string'), seq: req('uint'), data: req('any') },
  vmsg: { topic: req('string'), data: req('any') },
  reset: { topic: req('string'), seq: req('uint'), reason: req('string') },
  error: { code: req('string'), message: req('string'), ref: opt('string'), retryAfterMs: opt('uint') },
};

const MAX_STRING_FIELD = 4096;

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

function checkField(type: string, name: string, kind: FieldKind, value: unknown): void {
  const where = `${type}.${name}`;
  switch (kind) {
    case 'string':
      if (typeof value !== 'string') fail(`${where}: expected string, got ${describeValue(value)}`);
      if (value.length > MAX_STRING_FIELD) fail(`${where}: string longer than ${MAX_STRING_FIELD}`);
      return;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value))
        fail(`${where}: expected finite number, got ${describeValue(value)}`);
      return;
    case 'uint':
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
        fail(`${where}: expected non-negative integer, got ${describeValue(value)}`);
      }
      return;
    case 'boolean':
      if (typeof value !== 'boolean') fail(`${where}: expected boolean, got ${describeValue(value)}`);
      return;
    case 'record-uint': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        fail(`${where}: expected object of topic -> sequence, got ${describeValue(value)}`);
      }
      const entries = Object.entries(value);
      if (entries.length > 1024) fail(`${where}: more than 1024 topics`);
      for (const [topic, seq] of entries) {
        if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
          fail(
            `${where}[${JSON.stringify(topic)}]: expected non-negative integer, got ${describeValue(seq)}`,
          );
        }
      }
      return;
    }
    case 'any':
      if (value === undefined) fail(`${where}: missing`);
      return;
  }
}

/** Validates an already-decoded value. The only way a value becomes an `Envelope`. */
export function parseEnvelope(value: unknown): Envelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(`envelope: expected object, got ${describeValue(value)}`);
  }
  const record = value as Record<string, unknown>;
  const type = record.type;
  if (typeof type !== 'string' || !Object.hasOwn(shapes, type)) {
    fail(`envelope.type: expected one of ${Object.keys(shapes).join('|')}, got ${describeValue(type)}`);
  }
  const shape = shapes[type as EnvelopeType];
  for (const [name, field] of Object.entries(shape)) {
    const fieldValue = record[name];
    if (fieldValue === undefined) {
      if (!field.optional) fail(`${type}.${name}: missing`);
      continue;
    }
    checkField(type, name, field.kind, fieldValue);
  }
  return record as unknown as Envelope;
}
