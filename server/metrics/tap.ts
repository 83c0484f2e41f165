/**
 * Counting at the edges, with nothing in the rungs or the protocol: every connection is seen once as it
 * opens (ConnectionRegistry's tap), where a listener counts what arrives, a wrapper around `send` counts what
 * leaves, and the close event counts its code. Each costs a field increment per message on the connection's
 * own rung object. Byte counts are payload sizes: exact for binary, UTF-16 units for text (equal to UTF-8 bytes
 * for the ASCII JSON the protocol sends, a lower bound otherwise).
 */
import type { Payload, SendOptions, ServerConnection } from '../../src/transport.ts';
import type { Hub } from '../hub/hub.ts';
import { bump, type Counters, type LatencyBuckets } from './counters.ts';

const size = (data: Payload): number => (typeof data === 'string' ? data.length : data.byteLength);

export function tapConnection(counters: Counters, connection: ServerConnection): void {
  const rung = counters.rung(connection.kind);
  rung.opened++;
  connection.on('message', (event) => {
    rung.messagesIn++;
    // A large text the rung kept as bytes: their count (reading `data` would decode them).
    rung.bytesIn += event.utf8 === undefined ? size(event.data) : event.utf8.byteLength;
  });
  connection.on('close', (event) => bump(rung.closes, event.code));
  const send = connection.send;
  // An own property in front of the rung's method: the rung's code is unchanged, and without metrics unpaid.
  connection.send = (data: Payload, options?: SendOptions) => {
    rung.messagesOut++;
    rung.bytesOut += size(data);
    return send.call(connection, data, options);
  };
}

/**
 * Publishes timed: one in TIMING_SAMPLE. A clock read costs 100-150 ns on these machines, two per publish would
 * be several per cent of a whole pub -> ack; one publish in 16 keeps the histogram's shape at a sixteenth of
 * that. The publish count itself is exact.
 */
export const TIMING_SAMPLE = 16;

/**
 * Counts the hub's reliable publishes and times a sample of them (sequence assigned, history written, local
 * fan-out done), in place: its other methods, and any a later hub adds, stay its own. Synchronous hubs are
 * timed without a promise.
 */
export function timeHubPublish(hub: Hub, buckets: LatencyBuckets, count: { publishes: number }): void {
  const publish = hub.publish;
  let skip = 0;
  hub.publish = (topic, data, options) => {
    count.publishes++;
    if (++skip < TIMING_SAMPLE) return publish.call(hub, topic, data, options);
    skip = 0;
    const started = performance.now();
    const result = publish.call(hub, topic, data, options);
    if (typeof result === 'number') {
      buckets.observe((performance.now() - started) / 1000);
      return result;
    }
    return result.then((seq) => {
      buckets.observe((performance.now() - started) / 1000);
      return seq;
    });
  };
}
