/**
 * Carries SSE upstream batches between nodes over Redis pub/sub: every node listens on its own channel
 * `<prefix>:fwd:<node>`; a node that received a POST for a session another node holds publishes the batch
 * there and waits for the answer on its own channel. PUBLISH says how many listeners got it, so a dead owner is
 * known at once (404: the client opens a new session and resumes by sequence). On a Redis Cluster the channels
 * are sharded (SPUBLISH/SSUBSCRIBE): a forward touches the owner's shard only, not every master through the
 * cluster bus as a plain PUBLISH would, and SPUBLISH still counts the listeners. Frames are binary:
 * kind (Q request, R reply), header length (u32 BE), JSON header, body bytes.
 */
import { randomBytes } from 'node:crypto';
import { CloseCode } from '../../src/close-codes.ts';
import type { SseBatchRequest, SseBatchResult, SseForwarder } from '../../transports/sse/forward.ts';
import { refused } from '../../transports/sse/forward.ts';
import type { RedisLink } from './connection.ts';

const REQUEST = 0x51; // 'Q'
const REPLY = 0x52; // 'R'

interface RequestHeader {
  readonly id: string;
  readonly from: string;
  readonly session: string;
  readonly secret: string;
  readonly batch: string | undefined;
  readonly tooBig: boolean;
}

interface ReplyHeader {
  readonly id: string;
  readonly result: SseBatchResult;
}

function frame(kind: number, header: object, body?: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.allocUnsafe(5 + json.byteLength + (body?.byteLength ?? 0));
  out[0] = kind;
  out.writeUInt32BE(json.byteLength, 1);
  json.copy(out, 5);
  if (body) out.set(body, 5 + json.byteLength);
  return out;
}

function parse(message: Buffer): { kind: number; header: unknown; body: Uint8Array } | undefined {
  if (message.byteLength < 5) return undefined;
  const length = message.readUInt32BE(1);
  if (5 + length > message.byteLength) return undefined;
  try {
    const header = JSON.parse(message.toString('utf8', 5, 5 + length)) as unknown;
    return { kind: message[0] as number, header, body: message.subarray(5 + length) };
  } catch {
    return undefined;
  }
}

export interface RedisForwarderOptions {
  /** How long a node waits for the owner's answer before answering 503 (default 10 s). */
  readonly timeoutMs?: number;
}

export class RedisForwarder implements SseForwarder {
  readonly nodeId: string;
  readonly #link: RedisLink;
  readonly #timeoutMs: number;
  readonly #waiting = new Map<string, (result: SseBatchResult) => void>();
  #apply: ((request: SseBatchRequest) => SseBatchResult) | undefined;
  /** Counters for tests and health: batches this node sent to others, and applied for others. */
  readonly stats = { forwarded: 0, served: 0, ownerGone: 0 };

  constructor(link: RedisLink, options: RedisForwarderOptions = {}) {
    this.#link = link;
    this.nodeId = link.nodeId;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  #channel(node: string): string {
    return this.#link.key('fwd', node);
  }

  /** Starts listening on this node's channel (the link must be up). */
  async start(): Promise<void> {
    await this.#link.subscribe(this.#channel(this.nodeId), (message) => this.#onMessage(message));
  }

  serve(apply: (request: SseBatchRequest) => SseBatchResult): void {
    this.#apply = apply;
  }

  async forward(owner: string, request: SseBatchRequest): Promise<SseBatchResult> {
    const id = randomBytes(9).toString('base64url');
    const header: RequestHeader = {
      id,
      from: this.nodeId,
      session: request.session,
      secret: request.secret,
      batch: request.batch,
      tooBig: request.body === null,
    };
    const answer = new Promise<SseBatchResult>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        resolve(
          refused(
            503,
            'ERR_UNAVAILABLE',
            'the node holding this session did not answer',
            CloseCode.TryAgainLater,
          ),
        );
      }, this.#timeoutMs);
      this.#waiting.set(id, (result) => {
        clearTimeout(timer);
        this.#waiting.delete(id);
        resolve(result);
      });
    });
    let receivers: number;
    try {
      receivers = await this.#link.publish(
        this.#channel(owner),
        frame(REQUEST, header, request.body ?? undefined),
      );
    } catch (error) {
      this.#waiting.get(id)?.(
        refused(503, 'ERR_UNAVAILABLE', (error as Error).message, CloseCode.TryAgainLater),
      );
      return answer;
    }
    this.stats.forwarded++;
    if (receivers === 0) {
      this.stats.ownerGone++;
      this.#waiting.get(id)?.(
        refused(
          404,
          'ERR_UNKNOWN_SESSION',
          'the node holding this session is gone',
          CloseCode.UnknownSession,
        ),
      );
    }
    return answer;
  }

  #onMessage(message: Buffer): void {
    const parsed = parse(message);
    if (!parsed) return;
    if (parsed.kind === REPLY) {
      const reply = parsed.header as ReplyHeader;
      this.#waiting.get(reply.id)?.(reply.result);
      return;
    }
    if (parsed.kind !== REQUEST || !this.#apply) return;
    const request = parsed.header as RequestHeader;
    this.stats.served++;
    let result: SseBatchResult;
    try {
      result = this.#apply({
        session: request.session,
        secret: request.secret,
        batch: request.batch,
        body: request.tooBig ? null : parsed.body,
      });
    } catch (error) {
      result = refused(400, 'ERR_INVALID_FRAME', (error as Error).message, CloseCode.ProtocolError);
    }
    const reply: ReplyHeader = { id: request.id, result };
    void this.#link.publish(this.#channel(request.from), frame(REPLY, reply)).catch(() => undefined);
  }
}
