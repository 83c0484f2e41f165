/**
 * Hub events on their way to one client: encoded once per codec for all local subscribers of an event,
 * reliable ones queued on the topic's lane (outgoing.ts), unreliable ones sent as a datagram where the rung
 * has them, else ahead of the queue, or dropped when the client is backed up.
 */
import { type Codec, rawJsonMessage } from '../../src/codec.ts';
import type { Envelope } from '../../src/envelope.ts';
import { DEFAULT_CHANNEL } from '../../src/transport.ts';
import { encodeUtf8 } from '../../src/utf8.ts';
import { type OutgoingPayload, Utf8Text } from '../../src/utf8-text.ts';
import type { HubEvent } from '../hub/hub.ts';
import type { ProtocolConnection } from './connection.ts';
import { type Sized, sizeOf } from './outgoing.ts';

/**
 * A hub hands one event object to all its local subscribers in one go: encode it once per codec, not once per
 * subscriber. One slot per codec is enough for that (the subscribers of one event are called back to back) and,
 * unlike a map keyed by event, keeps no encoding alive for the messages a hub holds in its history.
 */
const lastEncoded: Record<Codec['name'], { event: HubEvent | undefined; encoded: Sized | undefined }> = {
  json: { event: undefined, encoded: undefined },
  msgpack: { event: undefined, encoded: undefined },
};

function encodeEvent(codec: Codec, event: HubEvent): Sized {
  const slot = lastEncoded[codec.name];
  if (slot.event === event) return slot.encoded as Sized;
  const envelope: Envelope =
    event.type === 'msg'
      ? { type: 'msg', topic: event.topic, seq: event.seq, data: event.data }
      : event.type === 'volatile'
        ? { type: 'vmsg', topic: event.topic, data: event.data }
        : { type: 'reset', topic: event.topic, seq: event.seq, reason: event.reason, epoch: event.epoch };
  const encoded: Sized = { payload: encodePayload(codec, envelope), bytes: -1 };
  slot.event = event;
  slot.encoded = encoded;
  return encoded;
}

const CLOSE_BRACE = encodeUtf8('}');

/**
 * A large JSON message's data goes to JSON subscribers as the bytes it arrived in (a RawJson): no string is made
 * of it and its UTF-8 is not counted or encoded again (docs/benchmarks.md, "zero-copy JSON delivery").
 */
function encodePayload(codec: Codec, envelope: Envelope): OutgoingPayload {
  const raw = codec.name === 'json' ? rawJsonMessage(envelope) : undefined;
  if (raw) return new Utf8Text([encodeUtf8(raw.head), raw.data.bytes, CLOSE_BRACE]);
  return codec.encode(envelope);
}

export function deliverHubEvent(conn: ProtocolConnection, event: HubEvent): void {
  if (conn.closed) return;
  const encoded = encodeEvent(conn.codec, event);
  if (event.type === 'volatile') sendVolatile(conn, event.topic, encoded);
  else conn.enqueueOut(conn.lanes.channelFor(event.topic), encoded.payload, encoded);
}

/**
 * Unreliable delivery: a datagram where the rung has them and it fits (the rung drops it under pressure,
 * it never queues behind streams); else straight onto the topic's lane, ahead of queued reliable traffic
 * (allowed: unreliable messages carry no order with respect to anything), unless the client is backed up,
 * in which case it is dropped rather than queued.
 */
function sendVolatile(conn: ProtocolConnection, topic: string, encoded: Sized): void {
  const stats = conn.settings.stats;
  const payload = encoded.payload;
  const bytes = sizeOf(encoded);
  const connection = conn.connection;
  const capabilities = connection.capabilities;
  let sent: Promise<void>;
  if (capabilities.datagrams && bytes <= (capabilities.maxDatagramBytes ?? 0)) {
    sent = connection.send(payload, { reliable: false });
  } else if (connection.bufferedAmount + conn.queuedBytes + bytes > conn.settings.volatileHighWaterMark) {
    stats.volatileDropped++;
    return;
  } else {
    const channel = conn.lanes.channelFor(topic);
    sent = connection.send(payload, channel === DEFAULT_CHANNEL ? undefined : { channel });
  }
  stats.volatileSent++;
  sent.catch(() => {
    // The rung is closing; unreliable data has no one to tell.
  });
}
