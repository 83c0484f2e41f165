/** The errors the client reports as `error` events, beyond the plain `SwitchyardError`. */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { SwitchyardError } from '../errors.ts';
import type { CloseInfo } from './link.ts';

/** An incoming message whose data failed the `messages` schema. */
export class ValidationError extends SwitchyardError {
  readonly topic: string;
  /** Undefined for an unreliable message (it has no sequence number). */
  readonly seq: number | undefined;
  readonly issues: readonly StandardSchemaV1.Issue[];
  constructor(topic: string, seq: number | undefined, issues: readonly StandardSchemaV1.Issue[]) {
    const first = issues[0];
    const path = first?.path?.map((p) => (typeof p === 'object' ? String(p.key) : String(p))).join('.');
    super(
      'ERR_VALIDATION',
      `message ${topic}#${seq ?? 'unreliable'} failed validation: ${path ? `${path}: ` : ''}${first?.message ?? 'invalid'}`,
    );
    this.topic = topic;
    this.seq = seq;
    this.issues = issues;
  }
}

/** The server refused one operation (e.g. a publish); `serverCode` is the code it sent. */
export class RejectedError extends SwitchyardError {
  readonly serverCode: string;
  constructor(serverCode: string, message: string) {
    super('ERR_REJECTED', `${serverCode}: ${message}`);
    this.serverCode = serverCode;
  }
}

/** The error a client that stopped hands to the app (its `error` event, `connect()` and pending publishes). */
export const disconnected = (info: CloseInfo) =>
  new SwitchyardError('ERR_DISCONNECTED', `${info.name} (${info.code}): ${info.reason}`, {
    closeCode: info.code,
  });
