import { describe, expect, it } from 'vitest';
import { FallbackLog } from './client/fallback-log.ts';
import type { AttemptEvent } from './client/types.ts';
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
    const attempt = (kind: AttemptEvent['kind'], ok: boolean, error?: string): void =>
      reports.emit('attempt', {
        attempt: 1,
        kind,
        purpose: 'connect',
        ok,
        elapsedMs: 1,
        ...(error ? { error } : {}),
      });
    attempt('negotiate', false, 'negotiate: HTTP 500');
    attempt('webtransport', false, 'webtransport: no working connection within 1000 ms');
    attempt('websocket', false, 'websocket: closed during the handshake (1006)');
    attempt('sse', false, 'sse: attempt abandoned');
    expect(log.pending()).toBe('webtransport:timeout,websocket:closed');
    attempt('sse', true);
    expect(log.pending()).toBeUndefined();
  });
});
