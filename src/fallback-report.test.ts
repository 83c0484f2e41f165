import { describe, expect, it } from 'vitest';
import { FallbackLog } from './client/fallback-log.ts';
import type { AttemptEvent, AttemptFailure } from './client/types.ts';
import { Emitter } from './emitter.ts';
import { encodeFallbacks, MAX_FALLBACKS, parseFallbacks } from './fallback-report.ts';

describe('hello.fallback', () => {
  it('round-trips and keeps only known rungs and reasons, at most MAX_FALLBACKS', () => {
    const list = [
      { kind: 'webtransport', reason: 'timeout' },
      { kind: 'websocket', reason: 'closed' },
    ] as const;
    expect(parseFallbacks(encodeFallbacks(list))).toEqual(list);
    expect(parseFallbacks('carrier-pigeon:timeout,sse:bored,sse:error')).toEqual([
      { kind: 'sse', reason: 'error' },
    ]);
    expect(parseFallbacks(Array(50).fill('sse:error').join(','))).toHaveLength(MAX_FALLBACKS);
    expect(parseFallbacks(undefined)).toEqual([]);
  });

  it('the client log keeps failed connect attempts until one succeeds, not abandoned race losers', () => {
    const reports = new Emitter<{ attempt: AttemptEvent }>();
    const log = new FallbackLog(reports);
    const attempt = (kind: AttemptEvent['kind'], ok: boolean, failure?: AttemptFailure): void =>
      reports.emit('attempt', {
        attempt: 1,
        kind,
        purpose: 'connect',
        ok,
        elapsedMs: 1,
        // The message is for people: the log goes by `failure` alone.
        ...(failure ? { error: 'timed out (1006) race ended', failure } : {}),
      });
    attempt('negotiate', false, 'error');
    attempt('webtransport', false, 'timeout');
    attempt('websocket', false, 'closed');
    attempt('sse', false, 'abandoned');
    attempt('sse', false, 'error');
    expect(log.pending()).toBe('webtransport:timeout,websocket:closed,sse:error');
    attempt('sse', true);
    expect(log.pending()).toBeUndefined();
  });
});
