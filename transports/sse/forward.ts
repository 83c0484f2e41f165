/**
 * SSE upstream across several server processes: a POST can land on any node (no sticky sessions), but the
 * session's event stream and its protocol connection live on one. Session ids name that node
 * (`<node>.<random>`), so the node that received a POST knows, without a lookup, where to hand the batch; the
 * owner applies it and its answer becomes the HTTP response. The client keeps one POST in flight per session,
 * so the upstream order is kept. The transport only defines the seam; server/redis/forward.ts carries it.
 */
import type { Context } from 'hono';

/** An upstream batch as the node holding its session applies it, wherever the POST arrived. */
export interface SseBatchRequest {
  readonly session: string;
  readonly secret: string;
  /** The raw batch-number header. */
  readonly batch: string | undefined;
  /** null: the body was over the size limit (the owner ends the session with 1009). */
  readonly body: Uint8Array | null;
}

/** The owner's answer, turned into the HTTP response by the node that received the POST. */
export interface SseBatchResult {
  readonly status: 204 | 400 | 401 | 404 | 413 | 503;
  readonly error?: { readonly code: string; readonly message: string; readonly closeCode: number };
}

export interface SseForwarder {
  /** This node's id (base64url): new session ids start with it and a dot. */
  readonly nodeId: string;
  /** Hands a batch to node `owner`; resolves with its answer (404 when that node is gone, 503 when unreachable). */
  forward(owner: string, request: SseBatchRequest): Promise<SseBatchResult>;
  /** How this node applies batches forwarded to it. */
  serve(apply: (request: SseBatchRequest) => SseBatchResult): void;
}

export function refused(
  status: SseBatchResult['status'],
  code: string,
  message: string,
  closeCode: number,
): SseBatchResult {
  return { status, error: { code, message, closeCode } };
}

export function batchResponse(c: Context, result: SseBatchResult): Response {
  const { status, error } = result;
  if (status === 204 || !error) return c.body(null, 204);
  c.header('cache-control', 'no-store');
  return c.json({ error: error.code, message: error.message, closeCode: error.closeCode }, status);
}

/** The node a session id names (`<node>.<random>`), if any. */
export function ownerOf(sessionId: string): string | undefined {
  const dot = sessionId.indexOf('.');
  return dot > 0 ? sessionId.slice(0, dot) : undefined;
}
