/**
 * What a `publish` becomes on the wire, checked before anything is sent: a bad topic or undefined data would
 * be answered with BadEnvelope (which ends the connection), an oversize one with MessageTooBig. Reliable
 * publishes get the id the server dedups by; the same payload is re-sent after a reconnect.
 */
import { CloseCode } from '../close-codes.ts';
import type { Codec } from '../codec.ts';
import { isSwitchyardError, SwitchyardError } from '../errors.ts';
import type { Payload } from '../transport.ts';
import { payloadByteLength } from '../utf8.ts';
import { assertTopic } from './topics.ts';

export interface EncodedPublish {
  /** Set for reliable publishes: the message id. */
  readonly id: string | undefined;
  readonly payload: Payload;
  readonly bytes: number;
}

const randomId = (): string =>
  globalThis.crypto?.randomUUID?.() ??
  `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;

/** Throws a SwitchyardError: ERR_INVALID_ENVELOPE (topic, data, codec) or ERR_MESSAGE_TOO_BIG. */
export function encodePublish(
  codec: Codec,
  topic: string | undefined,
  data: unknown,
  reliable: boolean,
  maxMessageBytes: number,
): EncodedPublish {
  // A reliable publish may go without a topic (to the server's own handler); an unreliable one may not.
  if (topic !== undefined || !reliable) assertTopic(topic);
  if (data === undefined || typeof data === 'function' || typeof data === 'symbol') {
    throw new SwitchyardError('ERR_INVALID_ENVELOPE', `publish: data cannot be ${typeof data} (use null)`);
  }
  const id = reliable ? randomId() : undefined;
  let payload: Payload;
  try {
    payload = codec.encode(
      id ? { type: 'pub', id, topic, data } : { type: 'vpub', topic: topic as string, data },
    );
  } catch (error) {
    // A BigInt, a cycle: whatever the codec cannot carry.
    throw isSwitchyardError(error)
      ? error
      : new SwitchyardError('ERR_INVALID_ENVELOPE', `data cannot be encoded: ${error}`, { cause: error });
  }
  const bytes = payloadByteLength(payload);
  if (bytes > maxMessageBytes) {
    throw new SwitchyardError(
      'ERR_MESSAGE_TOO_BIG',
      `message of ${bytes} bytes exceeds the server's limit of ${maxMessageBytes}`,
      { closeCode: CloseCode.MessageTooBig },
    );
  }
  return { id, payload, bytes };
}
