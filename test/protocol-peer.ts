/**
 * A server running the protocol, and raw WebSocket peers of it that speak JSON envelopes with no switchyard
 * client logic: so that the protocol's tests check every rule on the wire. One per test file; the server and
 * the protocol are closed after each test.
 */
import { afterEach } from 'vitest';
import { MemoryHub } from '../server/hub/memory.ts';
import { type RunningServer, startNodeServer } from '../server/node.ts';
import { createProtocol, type Protocol, type ProtocolOptions } from '../server/protocol/index.ts';
import type { Envelope } from '../src/envelope.ts';
import type { CloseEvent, Transport } from '../src/transport.ts';
import { createNodeWebSocketTransport } from '../transports/websocket/node.ts';
import { EnvelopeInbox } from './envelope-inbox.ts';

export interface Peer {
  readonly transport: Transport;
  /** Every envelope received, in order. */
  readonly received: Envelope[];
  readonly closed: Promise<CloseEvent>;
  /** An envelope as JSON, or any text as it is (to send what is not an envelope). */
  send(envelope: Envelope | string): void;
  /** The next envelope of `type` after those already returned (others are skipped, still in `received`). */
  next(type: Envelope['type']): Promise<Envelope>;
}

export interface ProtocolPeers {
  /** Starts the server (a heartbeat that never fires in a test, unless `options` says otherwise); its hub. */
  start(options?: Partial<ProtocolOptions>): Promise<MemoryHub>;
  /** A new connection, open, before hello. */
  peer(): Promise<Peer>;
  /** A new connection past hello and welcome. */
  greeted(): Promise<Peer>;
  /** The running protocol (after `start`). */
  readonly protocol: Protocol;
}

export function protocolPeers(): ProtocolPeers {
  let server: RunningServer | undefined;
  let protocol: Protocol | undefined;
  afterEach(async () => {
    await server?.close();
    protocol?.close();
    server = undefined;
    protocol = undefined;
  });

  async function peer(): Promise<Peer> {
    if (!server) throw new Error('protocolPeers: start() first');
    const transport = createNodeWebSocketTransport({ url: `${server.url.replace('http', 'ws')}/rt/ws` });
    const inbox = new EnvelopeInbox<Envelope>();
    transport.on('message', (e) => inbox.push(JSON.parse(e.data as string) as Envelope));
    const closed = new Promise<CloseEvent>((resolve) => transport.on('close', resolve));
    await new Promise<void>((resolve) => transport.on('open', () => resolve()));
    return {
      transport,
      received: inbox.received,
      closed,
      send: (envelope) =>
        void transport.send(typeof envelope === 'string' ? envelope : JSON.stringify(envelope)),
      next: (type) => inbox.next(type),
    };
  }

  return {
    async start(options = {}) {
      const hub = new MemoryHub();
      protocol = createProtocol({ hub, heartbeatMs: 60_000, ...options });
      server = await startNodeServer({ onConnection: protocol.onConnection });
      return hub;
    },
    peer,
    async greeted() {
      const p = await peer();
      p.send({ type: 'hello', v: 1 });
      await p.next('welcome');
      return p;
    },
    get protocol() {
      if (!protocol) throw new Error('protocolPeers: start() first');
      return protocol;
    },
  };
}
