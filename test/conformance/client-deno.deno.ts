// The client conformance suite (./client-suite.ts) under Deno: every rung of the Deno binding (native HTTP/3
// WebTransport, WebSocket, SSE) with Deno's platform APIs. Run by ./client-deno.test.ts; prints one JSON line.
import { createClient } from '../../src/client/index.ts';
import { parseNegotiateResponse } from '../../src/negotiate.ts';
import type { TransportKind } from '../../src/transport.ts';
import { browserTransports } from '../../transports/index.browser.ts';
import { type ClientRig, runSuite, type SuiteResults } from './client-suite.ts';

const base = Deno.args[0]!;
// URLs in negotiate are relative to it: the parser resolves them.
const negotiate = parseNegotiateResponse(
  await (await fetch(`${base}/rt/negotiate`)).json(),
  `${base}/rt/negotiate`,
);
const token = async () =>
  ((await (await fetch(negotiate.tokenUrl!, { method: 'POST' })).json()) as { token: string }).token;

const results: Record<string, SuiteResults> = {};
for (const kind of ['webtransport', 'websocket', 'sse'] as TransportKind[]) {
  const rig: ClientRig = {
    kind,
    create: (options = {}) =>
      createClient({
        url: base,
        transports: browserTransports,
        order: [kind],
        rememberRung: false,
        climb: false,
        ...(negotiate.tokenUrl ? { token } : {}),
        ...options,
      }),
    // The demo app lets clients publish to echo.* topics only.
    topic: (name) => `echo.${kind}.${name}.${Math.random().toString(36).slice(2, 8)}`,
  };
  results[kind] = await runSuite(rig);
}
console.log(JSON.stringify(results));
Deno.exit(0);
