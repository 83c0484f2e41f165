/**
 * Opens idle WebTransport sessions for the memory rows, with Deno's own WebTransport client through our rung's
 * client (the same code browsers run). Args: url, certificate hash (base64), count, `raw` | `bare` | `hello`.
 * `raw`: a plain WebTransport session, nothing of ours; `hello` also says hello in the protocol and waits
 * for `welcome`. Prints progress lines, then
 * {"open": n} and keeps the sessions open until stdin closes.
 */
import type { Transport } from '../../src/transport.ts';
import { createWebTransportTransport } from '../../transports/webtransport/client.ts';

const [url, hash, countText, mode] = Deno.args as [string, string, string, string];
const count = Number(countText);
const sessions: { close(): void }[] = [];

async function open(): Promise<void> {
  if (mode === 'raw') {
    const value = Uint8Array.from(atob(hash), (c) => c.charCodeAt(0));
    const session = new WebTransport(url, { serverCertificateHashes: [{ algorithm: 'sha-256', value }] });
    await session.ready;
    sessions.push(session);
    return;
  }
  const transport = createWebTransportTransport({
    url,
    certificateHashes: [{ algorithm: 'sha-256', value: hash }],
  });
  await new Promise<void>((resolve, reject) => {
    transport.on('open', () => resolve());
    transport.on('close', (e) => reject(new Error(`closed ${e.code} ${e.reason}`)));
  });
  const t: Transport = transport;
  if (mode === 'hello') {
    const welcome = new Promise<void>((resolve) => {
      t.on('message', (m) => {
        if (typeof m.data === 'string' && m.data.includes('"welcome"')) resolve();
      });
    });
    await t.send(JSON.stringify({ type: 'hello', v: 1 }));
    await welcome;
  }
  sessions.push(t);
}

let next = 0;
let reported = 0;
const lane = async () => {
  while (next < count) {
    next++;
    await open();
    if (sessions.length >= reported + 500) {
      reported = sessions.length - (sessions.length % 500);
      console.log(JSON.stringify({ progress: reported }));
    }
  }
};
await Promise.all(Array.from({ length: Math.min(32, count) }, lane));
console.log(JSON.stringify({ open: sessions.length }));
for await (const _ of Deno.stdin.readable) {
  // keep the sessions open until the orchestrator closes stdin
}
for (const t of sessions) t.close();
await new Promise((r) => setTimeout(r, 200));
Deno.exit(0);
