/**
 * switchyard client: one real-time connection over the best rung the network allows
 * (WebTransport -> WebSocket -> SSE+POST), with the same API on every rung. Full guide: docs/client.md.
 *
 * PUBLIC API (stable; e2e tests and apps build on exactly this):
 *
 *   import { createClient } from './src/client/index.ts';
 *   import { nodeTransports } from './transports/index.node.ts';   // browsers: browserTransports
 *
 *   const client = createClient({
 *     url: 'http://127.0.0.1:8080',        // GET `${url}/rt/negotiate` says which rungs exist
 *     transports: nodeTransports,          // kind -> factory (injected: src/ never imports transports/)
 *     order: ['websocket', 'sse'],         // optional: restrict / reorder the ladder
 *     messages: zodOrValibotSchema,        // optional Standard Schema for incoming `data`
 *     token: async () => fetchToken(),     // optional, sent in `hello`
 *     codec: msgpackCodec,                 // optional (src/codec.ts); default jsonCodec
 *     connectTimeoutMs: { webtransport: 1000, websocket: 1200, sse: 4000 },  // per rung, first round
 *     backoff: { baseMs: 500, maxMs: 30_000, maxAttempts: Infinity },        // full jitter
 *     heartbeatMs: 15_000,                 // default: what the server's welcome says
 *     buffer: { maxMessages: 1000, maxBytes: 1 << 20, overflow: 'reject-new' }, // or 'drop-oldest'
 *     lanes: 16,                           // streams per direction for topics (WebTransport/HTTP3); 0 = one
 *     volatileHighWaterMark: 65_536,       // unreliable publishes dropped above this many buffered bytes
 *     rememberRung: { ttlMs: 600_000 },    // or false
 *     climb: { afterMs: 10_000, maxMs: 300_000, timeoutMs: 5000 },           // or false
 *     autoConnect: true,
 *   });
 *
 *   client.state          'connecting' | 'connected' | 'reconnecting' | 'disconnected'
 *   client.rung           'webtransport' | 'websocket' | 'sse' | null
 *   client.session        server session id (stable across reconnects within the server's grace period)
 *   client.closeInfo      { code, reason, name, retry, why } of the last loss / of giving up
 *   client.pending        publishes not yet acknowledged
 *   client.stats          { volatileSent, volatileDropped, volatileReceived }
 *   await client.connect()                      idempotent; rejects ERR_DISCONNECTED when it gives up
 *   client.on('state' | 'rung' | 'message' | 'reset' | 'error' | 'attempt', listener) -> off()
 *   client.handle('chat', (data, { topic, seq }) => ...)   per `type` of a discriminated-union schema
 *   const sub = client.subscribe('room', { since?, presence?, info? })   sub.lastSeq, sub.unsubscribe()
 *   await client.presence('room')               [{ client, user?, info? }]: who is present now
 *   client.on('presence', ({ action: 'join' | 'leave', topic, client }) => ...)  with { presence: true }
 *   await client.publish('room', data)          at-least-once, resolves on ack, deduped server-side
 *   client.publish('cursors', pos, { reliable: false })   unreliable: datagram where possible, no ack,
 *                                               no retry, dropped when offline or backed up
 *   message events: { topic, seq, data, reliable: true } | { topic, seq: undefined, data, reliable: false }
 *   client.close()                              final until connect(); dispose() also drops listeners
 *
 * Errors are events (`error`), never exceptions out of the message loop: ValidationError (ERR_VALIDATION,
 * with `issues`), RejectedError (ERR_REJECTED, with `serverCode`), ERR_DISCONNECTED when it gives up.
 */
import { Client } from './client.ts';
import type { ClientOptions } from './types.ts';

export type { PresenceInfo, PresenceMember } from '../presence.ts';
export type { BackoffOptions } from './backoff.ts';
export { Client } from './client.ts';
export { RejectedError, ValidationError } from './errors.ts';
export { DEFAULT_ORDER } from './ladder.ts';
export type { CloseInfo } from './link.ts';
export type { OutboxOptions, OverflowPolicy } from './outbox.ts';
export { memoryRungMemory, type RungMemory, storageRungMemory } from './rung-memory.ts';
export type { RungConnectOptions, RungFactories, RungFactory } from './rungs.ts';
export type {
  AttemptEvent,
  AttemptFailure,
  ClientEvents,
  ClientMessage,
  ClientOptions,
  ClientReset,
  ClientState,
  ClientStats,
  PresenceEvent,
  PublishOptions,
  SubscribeOptions,
  Subscription,
} from './types.ts';

/** Creates a client; it starts connecting at once unless `autoConnect: false`. */
export function createClient<In = unknown>(options: ClientOptions<In>): Client<In> {
  return new Client<In>(options);
}
