/**
 * The client conformance suite (./client-suite.ts) from Node, over the rungs a Node client has (WebSocket and
 * SSE + POST), against the Node binding. WebTransport over native HTTP/3 runs the same suite from Deno
 * (./client-deno.test.ts) and from Chromium and Firefox (e2e/client-conformance.spec.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/index.ts';
import type { TransportKind } from '../../src/transport.ts';
import { nodeTransports } from '../../transports/index.node.ts';
import { startTestServer, type TestServer } from '../client/harness.ts';
import { type ClientRig, scenarios } from './client-suite.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

for (const kind of ['websocket', 'sse'] as TransportKind[]) {
  describe(`client conformance (node): ${kind}`, () => {
    const rig: ClientRig = {
      kind,
      create: (options = {}) =>
        createClient({
          url: server.url,
          transports: nodeTransports,
          order: [kind],
          rememberRung: false,
          climb: false,
          ...options,
        }),
      topic: (name) => `${kind}.${name}.${Math.random().toString(36).slice(2, 8)}`,
    };
    for (const [name, scenario] of Object.entries(scenarios)) {
      it(name, async () => {
        await expect(scenario(rig)).resolves.toBeUndefined();
      });
    }
  });
}
