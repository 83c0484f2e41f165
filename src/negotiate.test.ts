/**
 * Negotiate URLs resolved by the client: relative ones against the URL negotiate was fetched from (what
 * keeps a server behind a Host-rewriting proxy reachable), each with its rung's scheme; anything a rung
 * cannot use is refused with ERR_NEGOTIATION_FAILED rather than opened.
 */
import { describe, expect, it } from 'vitest';
import { errorMessage } from '../test/expect-error.ts';
import { parseNegotiateResponse, resolveOfferUrl } from './negotiate.ts';

const relative = {
  transports: [
    { kind: 'webtransport', url: 'wt', certificateHashes: [{ algorithm: 'sha-256', value: 'AAAA' }] },
    { kind: 'websocket', url: 'ws' },
    { kind: 'sse', url: 'sse', postUrl: 'sse/{session}' },
    { kind: 'carrier-pigeon', url: 'coo' },
  ],
  heartbeatMs: 15000,
  maxMessageBytes: 1 << 20,
  tokenUrl: 'token',
};

const negotiationError = (run: () => unknown) => errorMessage('ERR_NEGOTIATION_FAILED', run);

describe('negotiate URLs', () => {
  it('resolves relative URLs against where negotiate was fetched, with each rung scheme', () => {
    const parsed = parseNegotiateResponse(relative, 'https://app.example/realtime/rt/negotiate');
    expect(parsed.transports).toEqual([
      {
        kind: 'webtransport',
        url: 'https://app.example/realtime/rt/wt',
        certificateHashes: [{ algorithm: 'sha-256', value: 'AAAA' }],
      },
      { kind: 'websocket', url: 'wss://app.example/realtime/rt/ws' },
      {
        kind: 'sse',
        url: 'https://app.example/realtime/rt/sse',
        postUrl: 'https://app.example/realtime/rt/sse/{session}',
      },
    ]);
    expect(parsed.tokenUrl).toBe('https://app.example/realtime/rt/token');
    const plain = parseNegotiateResponse(relative, 'http://127.0.0.1:8080/rt/negotiate');
    expect(plain.transports.map((t) => t.url)).toEqual([
      'https://127.0.0.1:8080/rt/wt', // WebTransport is always https (QUIC on the same port number)
      'ws://127.0.0.1:8080/rt/ws',
      'http://127.0.0.1:8080/rt/sse',
    ]);
  });

  it('keeps absolute URLs (a server configured with publicUrl) and maps http(s) to ws(s) for WebSocket', () => {
    expect(resolveOfferUrl('websocket', 'wss://rt.example/rt/ws', 'http://127.0.0.1/rt/negotiate')).toBe(
      'wss://rt.example/rt/ws',
    );
    expect(resolveOfferUrl('websocket', 'https://rt.example/rt/ws')).toBe('wss://rt.example/rt/ws');
    expect(resolveOfferUrl('sse', '../x', 'http://h/a/rt/negotiate')).toBe('http://h/a/x');
  });

  it('refuses what a rung cannot open', () => {
    expect(
      negotiationError(() => resolveOfferUrl('sse', 'javascript:alert(1)', 'http://h/rt/negotiate')),
    ).toMatch(/scheme javascript: is not usable/);
    expect(negotiationError(() => resolveOfferUrl('webtransport', 'ws://h/rt/wt'))).toMatch(/scheme ws:/);
    expect(negotiationError(() => resolveOfferUrl('sse', 'http://user:pw@h/rt/sse'))).toMatch(/credentials/);
    expect(negotiationError(() => parseNegotiateResponse(relative))).toMatch(/not absolute/);
    expect(
      negotiationError(() =>
        parseNegotiateResponse(
          { ...relative, transports: [{ kind: 'websocket', url: 'http://[::1' }] },
          'http://h/',
        ),
      ),
    ).toMatch(/is not a URL/);
  });
});
