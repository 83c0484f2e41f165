/**
 * One transport opened by the client, tagged with the attempt it belongs to. It decodes what arrives and hands
 * it to whoever owns the link at the moment: the handshake (dialer.ts) first, then the client once the link is
 * current. Sending goes through the topic's lane and under the server's announced rate; an active link also
 * runs the heartbeat. Once retired its listeners are detached, so a replaced transport never moves the client.
 */
import { CloseCode, closeCodeName, isRetryable } from '../close-codes.ts';
import { type Codec, jsonCodec } from '../codec.ts';
import type { Envelope, WelcomeEnvelope } from '../envelope.ts';
import { isSwitchyardError, SwitchyardError } from '../errors.ts';
import { LaneMap } from '../lanes.ts';
import type { MessageRate } from '../negotiate.ts';
import type { CloseEvent, Payload, Transport, TransportKind } from '../transport.ts';
import { Heartbeat } from './heartbeat.ts';
import { Pacer } from './pacer.ts';
import type { AttemptFailure } from './types.ts';

/** Why a connection ended, with the decision from the close-code table (src/close-codes.ts). */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  readonly name: string;
  readonly retry: 'never' | 'retry';
  /** The decision in words; the full sentence per code is `closeCodeInfo(code).why` (switchyard/close-codes). */
  readonly why: string;
}

export function describeClose(code: number, reason: string): CloseInfo {
  const retry = isRetryable(code);
  return {
    code,
    reason,
    name: closeCodeName(code),
    retry: retry ? 'retry' : 'never',
    why: retry ? 'transient: reconnecting may succeed' : 'final: a retry would fail the same way',
  };
}

/** A failed attempt; `close` is set when the peer closed with a code (which may be fatal). */
export class AttemptError extends Error {
  readonly close: CloseInfo | undefined;
  readonly failure: AttemptFailure;
  constructor(message: string, close?: CloseInfo, failure: AttemptFailure = close ? 'closed' : 'error') {
    super(message);
    this.close = close;
    this.failure = failure;
  }
}

/** What happens to a link's traffic: an envelope, or a SwitchyardError for something undecodable. */
export type LinkReceiver = (received: Envelope | SwitchyardError) => void;

export class Link {
  readonly attempt: number;
  readonly kind: TransportKind;
  readonly transport: Transport;
  /** Set by the handshake; the client reads the session and limits from it. */
  welcome: WelcomeEnvelope | undefined;
  retired = false;
  /** The link's current owner: the handshake, then the client. */
  receive: LinkReceiver = () => undefined;
  closed: (event: CloseEvent) => void = () => undefined;
  readonly #codec: Codec;
  readonly #off: (() => void)[];
  /** Upstream lanes: a stream per topic where the rung's streams are independent, else none. */
  readonly #lanes: LaneMap;
  /** Paces the upstream below the server's announced message rate (none announced: no pacing). */
  readonly #pacer: Pacer | undefined;
  #heartbeat: Heartbeat | undefined;

  constructor(
    attempt: number,
    kind: TransportKind,
    transport: Transport,
    codec: Codec,
    lanes: number,
    rate: MessageRate | undefined,
  ) {
    this.attempt = attempt;
    this.kind = kind;
    this.transport = transport;
    this.#codec = codec;
    this.#lanes = new LaneMap(transport.capabilities.independentStreams ? lanes : 0);
    this.#pacer = rate && new Pacer(rate);
    this.#off = [
      transport.on('message', ({ data }) => {
        let envelope: Envelope;
        try {
          // The server answers in the client's codec; text is always JSON (error envelopes from any server).
          envelope = typeof data === 'string' ? jsonCodec.decode(data) : codec.decode(data);
        } catch (error) {
          this.receive(
            isSwitchyardError(error) ? error : new SwitchyardError('ERR_INVALID_ENVELOPE', String(error)),
          );
          return;
        }
        if (envelope.type === 'pong') this.#heartbeat?.pong(envelope.id);
        this.receive(envelope);
      }),
      transport.on('close', (event) => this.closed(event)),
    ];
  }

  /** Encodes and sends on `topic`'s lane (the default channel for connection-level envelopes). */
  sendEnvelope(envelope: Envelope, topic?: string): void {
    this.send(this.#codec.encode(envelope), topic);
  }

  /** Sends on `topic`'s lane, in turn under the rate. */
  send(payload: Payload, topic?: string): void {
    if (this.#pacer) this.#pacer.run(() => this.#write(payload, topic));
    else this.#write(payload, topic);
  }

  #write(payload: Payload, topic: string | undefined): void {
    if (this.retired) return;
    const channel = this.#lanes.channelFor(topic);
    // A failed send means the link is going down; its close event (or the heartbeat) takes over.
    this.transport.send(payload, channel ? { channel } : undefined).catch(() => undefined);
  }

  /**
   * Unreliable: a datagram when the rung has them and it fits (never queued behind streams); else the
   * topic's lane, unless more than `highWaterMark` bytes already wait in the rung's buffer: then it is
   * dropped (false), since a stale position is worth less than the next one.
   */
  sendUnreliable(payload: Payload, bytes: number, topic: string, highWaterMark: number): boolean {
    const { datagrams, maxDatagramBytes = 0 } = this.transport.capabilities;
    const datagram = datagrams && bytes <= maxDatagramBytes;
    if (!datagram && this.transport.bufferedAmount + bytes > highWaterMark) return false;
    const send = datagram
      ? () => this.transport.send(payload, { reliable: false }).catch(() => undefined)
      : () => this.#write(payload, topic);
    // Over the rate budget it is dropped, not delayed: by its turn a newer value will have replaced it.
    if (this.#pacer) return this.#pacer.tryNow(send);
    send();
    return true;
  }

  /** Pings every `intervalMs` while the link is in use; `dead` when a ping goes unanswered for an interval. */
  startHeartbeat(intervalMs: number, dead: () => void): void {
    this.#heartbeat = new Heartbeat(intervalMs, (id) => this.sendEnvelope({ type: 'ping', id }), dead);
  }

  retire(code: number = CloseCode.Normal, reason = ''): void {
    if (this.retired) return;
    this.retired = true;
    this.#heartbeat?.stop();
    this.#pacer?.stop();
    for (const off of this.#off) off();
    try {
      this.transport.close(code, reason);
    } catch {
      // Already closed.
    }
  }
}
