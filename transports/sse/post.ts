/**
 * The upstream half of the SSE rung: batched POSTs to a session-scoped URL, authorised by the session secret,
 * numbered so a retried POST is applied once, and handed to the node holding the session when it landed on
 * another one (forward.ts). Everything here answers with a documented status and error code.
 */
import type { Context, Hono } from 'hono';
import { refusalResponse } from '../../src/admission.ts';
import { CloseCode } from '../../src/close-codes.ts';
import { SwitchyardError } from '../../src/errors.ts';
import { decodeBatch } from './batch.ts';
import { batchResponse, ownerOf, refused, type SseBatchRequest, type SseBatchResult } from './forward.ts';
import type { SseRoutesOptions } from './server.ts';
import type { SseSession } from './session.ts';
import { nodeEnv, readNodeBody } from './sink.ts';

/** Header carrying the session secret on upstream POSTs (never the URL: URLs end up in logs). */
export const SECRET_HEADER = 'authorization';
/** Header numbering upstream batches, so a retried POST is applied once. */
export const BATCH_HEADER = 'x-switchyard-batch';

/** Compares secrets without an early exit, so timing does not reveal how much of a guess was right. */
function sameSecret(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** Reads a request body up to `max` bytes; returns null when it is larger (without buffering the rest). */
async function readBody(request: Request, max: number): Promise<Uint8Array | null> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > max) return null;
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** Mounts `POST /:session` and serves batches other nodes forward for sessions held here. */
export function mountBatchRoutes(
  app: Hono,
  options: SseRoutesOptions,
  sessions: ReadonlyMap<string, SseSession>,
): void {
  // A batch holds at least one maximal message; clients split larger bursts over several POSTs.
  const maxBatchBytes = Math.max(options.limits.maxMessageBytes + 128, 1024 * 1024);

  /** Everything about a batch that needs no body: session, secret, number (a retry is answered, not applied). */
  const admitBatch = (
    request: Omit<SseBatchRequest, 'body'>,
  ): SseBatchResult | { session: SseSession; batchNo: number } => {
    const session = sessions.get(request.session);
    if (!session) {
      return refused(
        404,
        'ERR_UNKNOWN_SESSION',
        'no such session (expired or closed)',
        CloseCode.UnknownSession,
      );
    }
    if (!sameSecret(request.secret, session.secret)) {
      return refused(401, 'ERR_UNAUTHORIZED', 'wrong session secret', CloseCode.Unauthorized);
    }
    const batchNo = Number(request.batch ?? 'NaN');
    if (!Number.isSafeInteger(batchNo) || batchNo < 1) {
      return refused(
        400,
        'ERR_INVALID_FRAME',
        `${BATCH_HEADER} must be a positive integer`,
        CloseCode.ProtocolError,
      );
    }
    return { session, batchNo };
  };

  const applyBatch = (session: SseSession, batchNo: number, body: Uint8Array | null): SseBatchResult => {
    if (batchNo <= session.lastBatch) return { status: 204 }; // a retry of a batch already applied
    if (body === null) {
      const error = new SwitchyardError('ERR_MESSAGE_TOO_BIG', `request body over ${maxBatchBytes} bytes`, {
        closeCode: CloseCode.MessageTooBig,
      });
      session.fail(error);
      return refused(413, error.code, error.message, CloseCode.MessageTooBig);
    }
    let frames: ReturnType<typeof decodeBatch>;
    try {
      frames = decodeBatch(body, options.limits.maxMessageBytes);
    } catch (error) {
      if (!(error instanceof SwitchyardError)) throw error;
      session.fail(error);
      const status = error.code === 'ERR_MESSAGE_TOO_BIG' ? 413 : 400;
      return refused(status, error.code, error.message, error.closeCode ?? CloseCode.ProtocolError);
    }
    session.lastBatch = batchNo;
    for (const frame of frames) {
      if (frame.kind === 'close') {
        session.receiveClose(frame.code, frame.reason);
        break;
      }
      session.receive(frame.channel, frame.data);
    }
    return { status: 204 };
  };

  // Batches other nodes received for sessions held here.
  options.forwarder?.serve((request) => {
    const admitted = admitBatch(request);
    return 'status' in admitted ? admitted : applyBatch(admitted.session, admitted.batchNo, request.body);
  });

  const remoteAddress = options.remoteAddress ?? ((c: Context) => options.connectionRequest(c).ip);
  /** On Node straight from the IncomingMessage (no WHATWG Request, AbortSignal and web stream per POST). */
  const body = (c: Context): Promise<Uint8Array | null> => {
    const node = nodeEnv(c);
    return node ? readNodeBody(node.incoming, maxBatchBytes) : readBody(c.req.raw, maxBatchBytes);
  };

  app.post('/:session', async (c) => {
    const refusal = await options.admission({
      request: c.req.raw,
      ip: remoteAddress(c),
      kind: 'sse',
      phase: 'post',
    });
    if (refusal) return refusalResponse(refusal);
    const auth = c.req.header(SECRET_HEADER) ?? '';
    const batch = {
      session: c.req.param('session'),
      secret: auth.startsWith('Bearer ') ? auth.slice(7) : '',
      batch: c.req.header(BATCH_HEADER),
    };
    const forwarder = options.forwarder;
    const owner = ownerOf(batch.session);
    if (forwarder && owner !== undefined && owner !== forwarder.nodeId) {
      // The stream is on another node: hand it the batch and answer with its answer (it keeps the order).
      return batchResponse(c, await forwarder.forward(owner, { ...batch, body: await body(c) }));
    }
    const admitted = admitBatch(batch);
    if ('status' in admitted) return batchResponse(c, admitted);
    return batchResponse(c, applyBatch(admitted.session, admitted.batchNo, await body(c)));
  });
}
