/**
 * WebTransport under test: Deno's native HTTP/3 (the binding server/deno/main.ts uses), every session handed
 * to our rung (`acceptWebTransportSession`) and then to `onConnection`: bare (mode `rung`) or the full
 * protocol (mode `protocol`); mode `raw` only keeps Deno's session object (the runtime's own cost, the
 * baseline the other two are read against). Run by bench/phases/webtransport.ts with `--v8-flags=--expose-gc`:
 *   prints {"port", "hash"} once listening; reads commands on stdin, one per line:
 *   `mem` -> {"mem": Deno.memoryUsage() after GC, "ready": sessions ready}
 */
import { generateDevCertificate } from '../../server/certs.ts';
import { MemoryHub } from '../../server/hub/index.ts';
import { createProtocol } from '../../server/protocol/index.ts';
import type { ConnectionHandler, ConnectionRequest } from '../../src/transport.ts';
import { DEFAULT_LIMITS } from '../../src/transport.ts';
import { acceptWebTransportSession } from '../../transports/webtransport/server.ts';

const mode = Deno.args[0] ?? 'rung';
let ready = 0;
const raw = new Set<WebTransport>();
const echo: ConnectionHandler = (connection) => {
  connection.on('message', (m) => void connection.send(m.data, { channel: m.channel }).catch(() => {}));
};
const protocol = mode === 'protocol' ? createProtocol({ hub: new MemoryHub() }) : undefined;
const app = protocol ? protocol.onConnection : echo;
const onConnection: ConnectionHandler = (connection) => {
  ready++;
  connection.on('close', () => void ready--);
  app(connection);
};

const certificate = await generateDevCertificate({ hosts: ['127.0.0.1', 'localhost'] });
const endpoint = new Deno.QuicEndpoint({ hostname: '127.0.0.1', port: 0 });
const listener = endpoint.listen({ cert: certificate.cert, key: certificate.key, alpnProtocols: ['h3'] });

void (async () => {
  for (;;) {
    const conn = await listener.accept().catch(() => undefined);
    if (!conn) return;
    void (async () => {
      try {
        const session = await Deno.upgradeWebTransport(conn);
        if (mode === 'raw') {
          await session.ready;
          raw.add(session);
          ready++;
          void session.closed.finally(() => {
            raw.delete(session);
            ready--;
          });
          return;
        }
        const request: ConnectionRequest = { url: session.url, origin: null, ip: '127.0.0.1', headers: {} };
        acceptWebTransportSession(session, request, DEFAULT_LIMITS, 'h3', onConnection);
      } catch (error) {
        console.error('webtransport session failed:', (error as Error).message);
      }
    })();
  }
})();

console.log(JSON.stringify({ port: endpoint.addr.port, hash: certificate.hash }));

const gc = (globalThis as { gc?: () => void }).gc;
const decoder = new TextDecoder();
let pending = '';
for await (const chunk of Deno.stdin.readable) {
  pending += decoder.decode(chunk);
  let newline = pending.indexOf('\n');
  while (newline >= 0) {
    const command = pending.slice(0, newline).trim();
    pending = pending.slice(newline + 1);
    newline = pending.indexOf('\n');
    if (command === 'mem') {
      if (!gc) throw new Error('start with --v8-flags=--expose-gc');
      for (let i = 0; i < 4; i++) {
        gc();
        await new Promise((r) => setTimeout(r, 50));
      }
      console.log(JSON.stringify({ mem: Deno.memoryUsage(), ready }));
    }
  }
}
