/**
 * The client's side of presence: `presence(topic)` requests (a `presence` envelope answered by `members`, or
 * an `error` naming its id) and the `join`/`leave` news for topics followed with `{ presence: true }`, emitted
 * as `presence` events. Kept apart from client.ts so that the connection logic stays about connections; the
 * client hands over the envelopes that are presence's and tells it when the link is lost.
 */
import type { Emitter } from '../emitter.ts';
import type { Envelope, PresenceEnvelope } from '../envelope.ts';
import { SwitchyardError } from '../errors.ts';
import type { PresenceMember } from '../presence.ts';
import { RejectedError } from './errors.ts';
import { assertTopic } from './topics.ts';
import type { ClientEvents } from './types.ts';

/** A `presence` request that gets no answer within this time rejects with ERR_TIMEOUT. */
const REQUEST_TIMEOUT_MS = 10_000;

interface Pending {
  readonly topic: string;
  readonly resolve: (members: PresenceMember[]) => void;
  readonly reject: (error: SwitchyardError) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

export class PresenceRequests<In> {
  readonly #events: Emitter<ClientEvents<In>>;
  /** False when there is no link to send on. */
  readonly #send: (envelope: PresenceEnvelope) => boolean;
  readonly #pending = new Map<string, Pending>();
  #next = 0;

  constructor(events: Emitter<ClientEvents<In>>, send: (envelope: PresenceEnvelope) => boolean) {
    this.#events = events;
    this.#send = send;
    // A lost link never answers: its requests fail; after a switch to a better rung they are asked again there.
    events.on('rung', (rung) => {
      if (rung === null) this.#rejectAll('connection lost');
      else for (const [id, pending] of this.#pending) send({ type: 'presence', id, topic: pending.topic });
    });
  }

  /** The topic's members now; rejects with ERR_DISCONNECTED while not connected, ERR_REJECTED when refused. */
  query(topic: string): Promise<PresenceMember[]> {
    try {
      assertTopic(topic);
    } catch (error) {
      return Promise.reject(error);
    }
    // Never a pub id (those are random base64url): an error's `ref` tells the two apart.
    const id = `presence:${++this.#next}`;
    return new Promise<PresenceMember[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new SwitchyardError('ERR_TIMEOUT', `presence ${topic}: no answer within ${REQUEST_TIMEOUT_MS} ms`),
        );
      }, REQUEST_TIMEOUT_MS);
      this.#pending.set(id, { topic, resolve, reject, timer });
      if (!this.#send({ type: 'presence', id, topic })) {
        this.#settle(id)?.reject(new SwitchyardError('ERR_DISCONNECTED', 'not connected'));
      }
    });
  }

  /** Takes the envelopes that are presence's (an `error` only when it names one of its requests). */
  receive(envelope: Envelope): boolean {
    switch (envelope.type) {
      case 'join':
      case 'leave':
        this.#events.emit('presence', {
          action: envelope.type,
          topic: envelope.topic,
          client: envelope.client,
        });
        return true;
      case 'members':
        this.#settle(envelope.id)?.resolve(envelope.clients);
        return true;
      case 'error': {
        const pending = envelope.ref === undefined ? undefined : this.#settle(envelope.ref);
        pending?.reject(new RejectedError(envelope.code, envelope.message));
        return pending !== undefined;
      }
      default:
        return false;
    }
  }

  #rejectAll(reason: string): void {
    for (const id of [...this.#pending.keys()]) {
      this.#settle(id)?.reject(new SwitchyardError('ERR_DISCONNECTED', reason));
    }
  }

  #settle(id: string): Pending | undefined {
    const pending = this.#pending.get(id);
    if (!pending) return undefined;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    return pending;
  }
}
