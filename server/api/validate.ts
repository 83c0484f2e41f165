/**
 * The checks every server API input passes before anything is published: topics by the protocol's own topic
 * rule (a topic no client could subscribe to is refused), a message's data within the rungs' size limit (as
 * JSON, the way a client's message is counted), ids within their bound. Each failure names the field, and in a batch the item's index.
 */
import { utf8Length } from '../../src/utf8.ts';
import { MAX_TOPIC_LENGTH, validTopic } from '../protocol/outcomes.ts';
import { ApiError } from './errors.ts';

/** Longest publish `id`. */
export const MAX_ID_LENGTH = 256;

export interface PublishItem {
  readonly topic: string;
  readonly data: unknown;
  readonly id: string | undefined;
}

export function checkTopic(value: unknown, index?: number): string {
  if (typeof value !== 'string' || !validTopic(value)) {
    throw new ApiError(
      'ERR_INVALID',
      `topic must be a non-empty string of at most ${MAX_TOPIC_LENGTH} characters`,
      { field: 'topic', ...(index === undefined ? {} : { index }) },
    );
  }
  return value;
}

/** One message of a publish or a batch: `{ topic, data, id? }`. */
export function checkPublishItem(value: unknown, maxMessageBytes: number, index?: number): PublishItem {
  const at = index === undefined ? {} : { index };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ApiError('ERR_INVALID', 'a message must be an object { topic, data, id? }', at);
  }
  const { topic, data, id } = value as Record<string, unknown>;
  checkTopic(topic, index);
  if (data === undefined) throw new ApiError('ERR_INVALID', 'data is missing', { field: 'data', ...at });
  const bytes = utf8Length(JSON.stringify(data));
  if (bytes > maxMessageBytes) {
    throw new ApiError('ERR_TOO_LARGE', `data is ${bytes} bytes as JSON, over ${maxMessageBytes}`, {
      field: 'data',
      limit: maxMessageBytes,
      ...at,
    });
  }
  if (id !== undefined && (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH)) {
    throw new ApiError(
      'ERR_INVALID',
      `id must be a non-empty string of at most ${MAX_ID_LENGTH} characters`,
      {
        field: 'id',
        ...at,
      },
    );
  }
  return { topic: topic as string, data, id: id as string | undefined };
}

/** A query parameter that must be a non-negative integer when present. */
export function checkCount(value: string | undefined, field: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,15}$/.test(value)) {
    throw new ApiError('ERR_INVALID', `${field} must be a non-negative integer`, { field });
  }
  return Number(value);
}
