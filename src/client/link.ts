/**
 * One transport opened by the client, tagged with the attempt it belongs to, and the handshake that
 * decides whether it works: `open`, then hello -> welcome, then one ping -> pong, all within a budget.
 * `open` alone proves nothing (proxies accept an upgrade and then hold or drop frames). Once a link is
 * retired its listeners are detached, so a replaced transport can never move the client again.
 */
import { CloseCode, closeCodeName, isRetryable } from '../close-codes.ts';
import { type Codec, jsonCodec } from '../codec.ts';
import { type Envelope, PROTOCOL_VERSION, type WelcomeEnvelope } from '../envelope.ts';
import { LaneMap } from '../lanes.ts';
import type { MessageRate, OfferedTransport } from '../negotiate.ts';
import type { CloseEvent, Payload, Transport, TransportKind } from '../transport.ts';
import { Pacer } from './pacer.ts';
import type { RungFactory } from './rungs.ts';

/** Why a connection ended, with the decision from the one close-code table. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  readonly name: string;
  readonly retry: 'never' | 'retry';
  readonly why: string;
}

export function describeClose(code: number, reason: string): CloseInfo {
  const retry = isRetryable(code);
  return {
    code,
    reason,
    name: closeCodeName(code),
    retry: retry ? 'retry' : 'never',
    why: retry ? 'retryable: the condition may pass' : 'fatal: a retry would fail the same way',
  };
}

/** A failed attempt; `close` is set when the peer closed with a code (which may be fatal). */
export class AttemptError extends Error {
  readonly close: CloseInfo | undefined;
  constructor(message: string, close: CloseInfo | undefined) {
    super(message);
    this.close = close;
  }
}

/** The server answers in the client's codec; text is always JSON (error envelopes from any server). */
export function decodeWith(codec: Codec, payload: Payload): Envelope {
  return typeof payload === 'string' ? jsonCodec.decode(payload) : codec.decode(payload);
}

export type LinkPhase = 'handshake' | 'active' | 'retired';

export class Link {
  phase: LinkPhase = 'handshake';
  welcome: WelcomeEnvelope | undefined;
  /** Set by the client when the link becomes current. */
  onActiveMessage: ((payload: Payload) => void) | undefined;
  onActiveClose: ((event: CloseEvent) => void) | undefined;
  readonly off: (() => void)[] = [];
  readonly attempt: number;
  readonly kind: TransportKind;
  readonly transport: Transport;
  /** Upstream lanes: a stream per topic where the rung's streams are independent, else none. */
  readonly lanes: LaneMap;
  /** Paces the upstream below the server's announced message rate (none announced: no pacing). */
  readonly #pacer: Pacer | undefined;

  constructor(
    attempt: number,
    kind: TransportKind,
    transport: Transport,
    lanes: number,
    rate: MessageRate | undefined,
  ) {
    this.attempt = attempt;
    this.kind = kind;
    this.transport = transport;
    this.lanes = new LaneMap(transport.capabilities.independentStreams ? lanes : 0);
    this.#pacer = rate ? new Pacer(rate) : undefined;
  }

  /** Sends on `topic`'s lane (the default channel for connection-level envelopes), in turn under the rate. */
  send(payload: Payload, topic?: string): void {
    if (this.#pacer) this.#pacer.run(() => this.#write(payload, topic));
    else this.#write(payload, topic);
  }

  #write(payload: Payload, topic: string | undefined): void {
    if (this.phase === 'retired') return;
    const channel = this.lanes.channelFor(topic);
    // A failed send means the link is going down; its close event (or the heartbeat) takes over.
    this.transport.send(payload, channel === '' ? undefined : { channel }).catch(() => undefined);
  }

  /**
   * Unreliable: a datagram when the rung has them and it fits (never queued behind streams); else the
   * topic's lane, unless more than `highWaterMark` bytes already wait in the rung's buffer: then it is
   * dropped (false), since a stale position is worth less than the next one.
   */
  sendUnreliable(payload: Payload, bytes: number, topic: string, highWaterMark: number): boolean {
    const capabilities = this.transport.capabilities;
    const datagram = capabilities.datagrams && bytes <= (capabilities.maxDatagramBytes ?? 0);
    if (!datagram && this.transport.bufferedAmount + bytes > highWaterMark) return false;
    const send = datagram
      ? () => this.transport.send(payload, { reliable: false }).catch(() => undefined)
      : () => this.#write(payload, topic);
    // Over the rate budget it is dropped, not delayed: by its turn a newer value will have replaced it.
    if (this.#pacer) return this.#pacer.tryNow(send);
    send();
    return true;
  }

  retire(code: number, reason: string): void {
    if (this.phase === 'retired') return;
    this.phase = 'retired';
    this.#pacer?.stop();
    for (const off of this.off) off();
    try {
      this.transport.close(code, reason);
    } catch {
      // Already closed.
    }
  }
}

export interface HandshakeParams {
  readonly factory: RungFactory;
  readonly offer: OfferedTransport;
  readonly attempt: number;
  readonly timeoutMs: number;
  readonly codec: Codec;
  readonly maxMessageBytes: number;
  readonly token?: string | undefined;
  readonly session?: string | undefined;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** The app's `lanes` option: upstream lanes, and the downstream lanes asked of the server in `hello`. */
  readonly lanes: number;
  /** Whether to tell the server (`hello.lanes`); unset leaves the server's default. */
  readonly announceLanes: boolean;
  /** The server's per-connection message limit, from `/rt/negotiate`. */
  readonly rate?: MessageRate | undefined;
}

/** Opens the rung and resolves with a link that passed hello/welcome and ping/pong within the budget. */
export function openLink(params: HandshakeParams, onLink?: (link: Link) => void): Promise<Link> {
  const { offer, codec, token, timeoutMs } = params;
  let transport: Transport;
  try {
    transport = params.factory({
      offer,
      url: offer.url,
      maxMessageBytes: params.maxMessageBytes,
      ...(params.headers ? { headers: params.headers } : {}),
      ...(token !== undefined ? { token } : {}),
    });
  } catch (error) {
    return Promise.reject(new AttemptError(`${offer.kind}: ${(error as Error).message}`, undefined));
  }
  const link = new Link(params.attempt, offer.kind, transport, params.lanes, params.rate);
  onLink?.(link);
  return new Promise<Link>((resolve, reject) => {
    let serverError: string | undefined;
    let settled = false;
    const fail = (error: AttemptError) => {
      clearTimeout(timer);
      link.retire(CloseCode.Normal, 'attempt abandoned');
      if (!settled) reject(error);
      settled = true;
    };
    const timer = setTimeout(
      () => fail(new AttemptError(`${offer.kind}: no working connection within ${timeoutMs} ms`, undefined)),
      timeoutMs,
    );
    const send = (envelope: Envelope) => link.send(codec.encode(envelope));
    const hello = () =>
      send({
        type: 'hello',
        v: PROTOCOL_VERSION,
        ...(token !== undefined ? { token } : {}),
        ...(params.session !== undefined ? { session: params.session } : {}),
        ...(params.announceLanes ? { lanes: params.lanes } : {}),
      });
    link.off.push(
      transport.on('open', () => {
        if (link.phase === 'handshake') hello();
      }),
      transport.on('message', (event) => {
        if (link.phase === 'active') {
          link.onActiveMessage?.(event.data);
          return;
        }
        if (link.phase !== 'handshake' || settled) return;
        let envelope: Envelope;
        try {
          envelope = decodeWith(codec, event.data);
        } catch (error) {
          fail(new AttemptError(`${offer.kind}: ${(error as Error).message}`, undefined));
          return;
        }
        if (envelope.type === 'welcome') {
          link.welcome = envelope;
          send({ type: 'ping', id: params.attempt });
        } else if (envelope.type === 'pong' && envelope.id === params.attempt && link.welcome) {
          clearTimeout(timer);
          settled = true;
          resolve(link);
        } else if (envelope.type === 'error') {
          serverError = `${envelope.code}: ${envelope.message}`;
        }
      }),
      transport.on('close', (event) => {
        if (link.phase === 'active') {
          link.onActiveClose?.(event);
          return;
        }
        // Closed after passing but before the client took it: retire it so activation can see that.
        if (settled) {
          link.retire(CloseCode.Normal, 'closed before use');
          return;
        }
        const reason = event.reason || serverError || 'closed during the handshake';
        fail(new AttemptError(`${offer.kind}: ${reason} (${event.code})`, describeClose(event.code, reason)));
      }),
      transport.on('error', () => {
        // The close event follows and carries the decision.
      }),
    );
    if (transport.state === 'open') hello();
  });
}
