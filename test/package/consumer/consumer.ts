// Type-checks the published declarations as a TypeScript user compiles against them (strict, skipLibCheck
// off, resolution through package.json `exports`). Not run: tsc --noEmit only.

import type { NegotiateResponse } from 'switchyard';
import { type ClientMessage, type CloseInfo, createClient } from 'switchyard/client';
import { CloseCode } from 'switchyard/close-codes';
import { type Codec, jsonCodec } from 'switchyard/codec';
import { test as kit, type ProbeSnapshot } from 'switchyard/playwright';
import { probe } from 'switchyard/playwright/probe';
import { createSwitchyardApp, PATHS } from 'switchyard/server';
import { type DenoServerOptions, serveDeno } from 'switchyard/server/deno';
import { type Hub, MemoryHub } from 'switchyard/server/hub';
import { type RunningServer, startNodeServer } from 'switchyard/server/node';
import { createProtocol, type Protocol } from 'switchyard/server/protocol';
import { createSecurity, parseAllowedOrigins, type TrustProxy } from 'switchyard/server/security';
import { createSseTransport } from 'switchyard/sse';
import { browserTransports } from 'switchyard/transports/browser';
import { nodeTransports } from 'switchyard/transports/node';
import { createWebSocketTransport } from 'switchyard/websocket';
import { createWebTransportTransport } from 'switchyard/webtransport';

type Chat = { type: 'chat'; text: string };

export async function typed(): Promise<void> {
  const hub: Hub = new MemoryHub();
  const protocol: Protocol = createProtocol({ hub });
  const trust: TrustProxy = { headers: 'x-forwarded', from: ['127.0.0.1'] };
  const security = createSecurity({ allowedOrigins: parseAllowedOrigins('https://app.example') });
  const server: RunningServer = await startNodeServer({
    onConnection: protocol.onConnection,
    security,
    publicUrl: 'https://app.example',
    trustProxy: trust,
  });
  const client = createClient<Chat>({ url: server.url, transports: nodeTransports });
  client.on('message', (m: ClientMessage<Chat>) => m.data.text.toUpperCase());
  client.on('state', (s) => s === 'connected');
  const info: CloseInfo | undefined = client.closeInfo;
  const codec: Codec = jsonCodec;
  const code: number = CloseCode.GoingAway;
  const paths: string = PATHS.negotiate;
  const options: Partial<DenoServerOptions> = { webTransport: { port: 443 } };
  const negotiate: NegotiateResponse | undefined = undefined;
  const snapshot: ProbeSnapshot | undefined = undefined;
  void [info, codec, code, paths, options, negotiate, snapshot, browserTransports, kit, probe, serveDeno];
  void [createSwitchyardApp, createSseTransport, createWebTransportTransport, createWebSocketTransport];
  await server.close();
}
