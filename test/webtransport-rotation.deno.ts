// Certificate rotation under Deno (run by test/webtransport-deno.test.ts with CERT_ROTATE_MS set): a session
// opened before the switch keeps working after it, and a client holding the hashes read before the switch
// still connects after it.
import { parseNegotiateResponse } from '../src/negotiate.ts';
import type { Transport } from '../src/transport.ts';
import { createWebTransportTransport } from '../transports/webtransport/client.ts';

type Offer = { kind: string; url: string; certificateHashes: { algorithm: 'sha-256'; value: string }[] };
const base = Deno.args[0]!;
const rotateMs = Number(Deno.args[1]);
const offerNow = async () =>
  (
    parseNegotiateResponse(
      await (await fetch(`${base}/rt/negotiate`)).json(),
      `${base}/rt/negotiate`,
    ) as unknown as { transports: Offer[] }
  ).transports.find((t) => t.kind === 'webtransport')!;
const open = async (offer: Offer): Promise<Transport> => {
  const t = createWebTransportTransport({ url: offer.url, certificateHashes: offer.certificateHashes });
  await new Promise<void>((resolve, reject) => {
    t.on('open', () => resolve());
    t.on('close', (e) => reject(new Error(`closed ${e.code} ${e.reason}`)));
  });
  return t;
};
const echo = (t: Transport, text: string) =>
  new Promise<string>((resolve) => {
    const off = t.on('message', (m) => {
      off();
      resolve(String(m.data));
    });
    void t.send(text);
  });

const results: Record<string, unknown> = {};
const first = await offerNow();
results.hashesBefore = first.certificateHashes.length;
const longLived = await open(first);
results.before = await echo(longLived, 'before');
// Wait into the overlap window: the next hash is published next to the current one.
await new Promise((r) => setTimeout(r, rotateMs * 0.75));
const overlap = await offerNow();
results.hashesDuringOverlap = overlap.certificateHashes.length;
// Past the switch.
await new Promise((r) => setTimeout(r, rotateMs * 0.5));
const after = await offerNow();
results.hashesAfter = after.certificateHashes.length;
results.rotated = after.certificateHashes[0]!.value !== first.certificateHashes[0]!.value;
results.longLivedAfter = await echo(longLived, 'after');
results.staleOfferConnects = await open(overlap)
  .then(async (t) => {
    const reply = await echo(t, 'stale offer');
    t.close();
    return reply;
  })
  .catch((e: Error) => e.message);
results.freshOfferConnects = await open(after)
  .then(async (t) => {
    const reply = await echo(t, 'fresh offer');
    t.close();
    return reply;
  })
  .catch((e: Error) => e.message);
longLived.close();
console.log(JSON.stringify(results));
Deno.exit(0);
