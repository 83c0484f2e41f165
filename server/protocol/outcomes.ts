/**
 * How the protocol reports what went wrong: the topic-name rule every `sub`, `pub` and `vpub` passes, and the
 * outcomes a failed publish turns into (a retryable close for an unavailable store or hub, an `error`
 * envelope otherwise). A leaf module, so every part of the protocol can share it without an import cycle.
 */
import { CloseCode } from '../../src/close-codes.ts';
import { isSwitchyardError } from '../../src/errors.ts';
import type { PublishOutcome } from './sessions.ts';

export const MAX_TOPIC_LENGTH = 256;

export function validTopic(topic: string): boolean {
  return topic.length > 0 && topic.length <= MAX_TOPIC_LENGTH;
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function failed(error: unknown): PublishOutcome {
  // Unavailable (maybe applied late, e.g. a timed-out Redis call): a retryable close keeps the message in the
  // client's outbox; the hub's idempotency key makes the re-sent copy write once.
  return isSwitchyardError(error, 'ERR_UNAVAILABLE')
    ? { ok: false, code: error.code, message: error.message, closeCode: CloseCode.TryAgainLater }
    : {
        ok: false,
        code: isSwitchyardError(error) ? error.code : 'ERR_PUBLISH_FAILED',
        message: describeError(error),
      };
}

export const unavailable = (error: unknown): PublishOutcome => ({
  ok: false,
  code: 'ERR_UNAVAILABLE',
  message: describeError(error),
  closeCode: CloseCode.TryAgainLater,
});
