/**
 * The single gate every rung passes before a connection exists (WebSocket upgrade, SSE GET, upstream POST,
 * WebTransport CONNECT). Security policy (origin, tokens, per-IP caps) plugs in here, so no rung can forget it.
 */
import type { TransportKind } from './transport.ts';

export interface AdmissionRequest {
  readonly request: Request;
  readonly ip: string;
  readonly kind: TransportKind;
  /** 'connect' opens a connection; 'post' is an SSE upstream request of an existing session. */
  readonly phase: 'connect' | 'post';
}

/** A refusal, as HTTP status (before the handshake) and as close code (where a rung can only close). */
export interface Refusal {
  readonly status: number;
  readonly closeCode: number;
  readonly code: string;
  readonly message: string;
  /** Seconds, for 429/503 `Retry-After`. */
  readonly retryAfter?: number;
}

export type Admission = (request: AdmissionRequest) => Refusal | null | Promise<Refusal | null>;

export const admitAll: Admission = () => null;

export function refusalResponse(refusal: Refusal): Response {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'cache-control': 'no-store' };
  if (refusal.retryAfter !== undefined) headers['retry-after'] = String(Math.ceil(refusal.retryAfter));
  return new Response(
    JSON.stringify({ error: refusal.code, message: refusal.message, closeCode: refusal.closeCode }),
    {
      status: refusal.status,
      headers,
    },
  );
}
