/**
 * Unreliable messages over WebTransport datagrams: the reading loop (a malformed datagram is dropped like a
 * lost one, it never ends the session), the size check against the path's limit, and the bounded, aging
 * queue they leave through (datagram-sender.ts). Only on native QUIC (`h3`); over HTTP/2 the connection
 * applies the volatile policy on its streams instead.
 */
import type { ConnectionCore } from '../../src/connection-core.ts';
import { SwitchyardError } from '../../src/errors.ts';
import { decodeUtf8Strict } from '../../src/utf8.ts';
import type { WebTransportSessionLike } from './connection.ts';
import { DatagramSender } from './datagram-sender.ts';
import { datagramOverhead, decodeDatagram, FrameType } from './framing.ts';

/** Used when the runtime does not report `maxDatagramSize`: fits any QUIC path MTU of 1280 with headers. */
export const FALLBACK_MAX_DATAGRAM = 1100;
/** An unreliable message that waited this long to leave is stale (positions, cursors): it is dropped. */
const DATAGRAM_MAX_AGE_MS = 250;
/** Datagrams that may wait to leave (beyond, the oldest go), and that a runtime may hold for our reader. */
const DATAGRAM_QUEUE = 256;

/** Delivers arriving datagrams as unreliable messages while the connection is open, until the session ends. */
export async function readDatagrams(session: WebTransportSessionLike, core: ConnectionCore): Promise<void> {
  // Deno keeps one arriving datagram for a reader that is busy (incomingHighWaterMark 1): a burst across
  // channels would then lose every channel's update but the last one's, not just the stale ones.
  tune(session.datagrams, 'incomingHighWaterMark', DATAGRAM_QUEUE);
  const reader = session.datagrams.readable.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (core.state !== 'open') continue;
      let datagram: ReturnType<typeof decodeDatagram>;
      try {
        datagram = decodeDatagram(value);
      } catch (error) {
        // A malformed datagram is dropped, like a lost one; it does not end the session.
        if (error instanceof SwitchyardError) core.emitError(error);
        continue;
      }
      const data = datagram.type === FrameType.text ? decodeUtf8Strict(datagram.payload) : datagram.payload;
      core.events.emit('message', { data, channel: datagram.channel, unreliable: true });
    }
  } catch {
    // Session over.
  }
}

/** The error a datagram too big for this session's path is refused with; undefined when it fits. */
export function datagramTooBig(
  session: WebTransportSessionLike,
  channel: string,
  payloadBytes: number,
): SwitchyardError | undefined {
  const size = payloadBytes + datagramOverhead(channel);
  const max = session.datagrams.maxDatagramSize ?? FALLBACK_MAX_DATAGRAM;
  if (size <= max) return undefined;
  return new SwitchyardError(
    'ERR_DATAGRAM_TOO_BIG',
    `datagram of ${size} bytes (payload ${payloadBytes} + ${datagramOverhead(channel)} header) exceeds this session's limit of ${max}`,
  );
}

export function openDatagramSender(session: WebTransportSessionLike): DatagramSender {
  // Also where the runtime has it (W3C `outgoingMaxAge`): what waits in its own queues is bounded too.
  tune(session.datagrams, 'outgoingMaxAge', DATAGRAM_MAX_AGE_MS);
  return new DatagramSender(session.datagrams.writable.getWriter(), {
    maxAgeMs: DATAGRAM_MAX_AGE_MS,
    maxQueued: DATAGRAM_QUEUE,
  });
}

/** Sets a W3C datagram attribute where the runtime has it and lets it be set (they are newer than the API). */
function tune(datagrams: object, name: 'outgoingMaxAge' | 'incomingHighWaterMark', value: number): void {
  if (!(name in datagrams)) return;
  try {
    (datagrams as Record<string, unknown>)[name] = value;
  } catch {
    // Read-only here: our own queue still bounds what waits to leave.
  }
}
