// Deno client -> Deno server over native HTTP/3: the WebTransport rung's checks under Deno, run by
// test/webtransport-deno.test.ts (which starts the server with SWITCHYARD_APP=echo and parses the result).
import { base64ToBytes } from '../src/base64.ts';
import { parseNegotiateResponse } from '../src/negotiate.ts';
import type { CloseEvent, MessageEvent, Transport } from '../src/transport.ts';
import { createWebTransportTransport } from '../transports/webtransport/client.ts';
import { helloFrame } from '../transports/webtransport/control.ts';
import { encodeFrame, FrameReader, FrameType } from '../transports/webtransport/framing.ts';

type Offer = { kind: string; url: string; certificateHashes: { algorithm: 'sha-256'; value: string }[] };
const base = Deno.args[0]!;
// Offered URLs are relative to the negotiate URL; the parser resolves them.
const negotiate = parseNegotiateResponse(
  await (await fetch(`${base}/rt/negotiate`)).json(),
  `${base}/rt/negotiate`,
) as unknown as { transports: Offer[] };
const offer = negotiate.transports.find((t) => t.kind === 'webtransport')!;
const results: Record<string, unknown> = {};

async function open(maxMessageBytes?: number): Promise<Transport> {
  const t = createWebTransportTransport({
    url: offer.url,
    certificateHashes: offer.certificateHashes,
    ...(maxMessageBytes ? { maxMessageBytes } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    t.on('open', () => resolve());
    t.on('close', (e) => reject(new Error(`closed ${e.code} ${e.reason}`)));
  });
  return t;
}

function collect(
  t: Transport,
  n: number,
  filter: (m: MessageEvent) => boolean = () => true,
): Promise<MessageEvent[]> {
  const out: MessageEvent[] = [];
  return new Promise((resolve) => {
    t.on('message', (m) => {
      if (!filter(m)) return;
      out.push(m);
      if (out.length === n) resolve(out);
    });
  });
}

const closed = (t: Transport) => new Promise<CloseEvent>((resolve) => t.on('close', resolve));
const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => i & 255);

/** A WebTransport session without our client, its control stream open and HELLO sent: for frames written raw. */
async function rawSession(): Promise<{ raw: WebTransport; control: WebTransportBidirectionalStream }> {
  const serverCertificateHashes = offer.certificateHashes.map((h) => ({
    algorithm: h.algorithm,
    value: base64ToBytes(h.value),
  }));
  const raw = new WebTransport(offer.url, { serverCertificateHashes });
  await raw.ready;
  const control = await raw.createBidirectionalStream();
  await control.writable.getWriter().write(helloFrame());
  return { raw, control };
}

/** A channel stream of a raw session, its OPEN written. */
async function rawChannel(raw: WebTransport, name: string) {
  const stream = await raw.createBidirectionalStream();
  const writer = stream.writable.getWriter();
  await writer.write(encodeFrame(FrameType.open, new TextEncoder().encode(name)));
  return { stream, writer };
}

const t = await open();
results.capabilities = t.capabilities;

// Exact echo of text and bytes.
const samples = ['', 'hello', 'lines\n\r\nCR\r', 'astral 😀 ☃', 'nul\u0000'];
const echoed = collect(t, samples.length + 1);
for (const s of samples) await t.send(s);
await t.send(bytes(256));
const got = await echoed;
results.textExact =
  JSON.stringify(got.slice(0, samples.length).map((m) => m.data)) === JSON.stringify(samples);
results.binaryExact =
  JSON.stringify([...(got.at(-1)!.data as Uint8Array)]) === JSON.stringify([...bytes(256)]);

// Channels: each on its own stream, tagged on return.
const tagged = collect(t, 3, (m) => m.channel !== '');
await t.send('a', { channel: 'alpha' });
await t.send('b', { channel: 'beta' });
await t.send('c', { channel: 'gamma' });
results.channels = (await tagged).map((m) => `${m.channel}=${m.data}`).sort();

// 10,000 in order on one channel.
const N = 10_000;
const ordered = collect(t, N, (m) => m.channel === 'seq');
const sends: Promise<void>[] = [];
for (let i = 0; i < N; i++) sends.push(t.send(String(i), { channel: 'seq' }));
await Promise.all(sends);
const seq = (await ordered).map((m) => Number(m.data));
results.inOrder = seq.every((v, i) => v === i);

// Datagrams: round trip, oversize refused, mostly arrive without loss.
const dgrams = collect(t, 1, (m) => m.unreliable);
await t.send('ping', { reliable: false, channel: 'dg' });
const dg = (await dgrams)[0]!;
results.datagram = { data: dg.data, channel: dg.channel, unreliable: dg.unreliable };
const max = t.capabilities.maxDatagramBytes ?? 0;
results.maxDatagramBytes = max;
results.oversizeDatagram = await t
  .send(bytes(max + 1), { reliable: false })
  .then(() => 'sent')
  .catch((e: { code?: string }) => e.code);
let arrived = 0;
t.on('message', (m) => {
  if (m.unreliable && m.channel === 'burst') arrived++;
});
for (let i = 0; i < 500; i++) {
  await t.send(bytes(200), { reliable: false, channel: 'burst' });
  if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5));
}
await new Promise((r) => setTimeout(r, 500));
results.datagramsArrived = arrived;

// Large text, past the 16 KiB line from which the server checks UTF-8 on the bytes instead of decoding them:
// exact, with every UTF-8 length, wherever the stream's chunks split a character.
const bigText = 'a\u00e9\u2603\u{1f600}'.repeat(30_000);
const bigEcho = collect(t, 1, (m) => m.channel === 'big');
await t.send(bigText, { channel: 'big' });
results.largeTextExact = (await bigEcho)[0]!.data === bigText;

// Server-initiated close with code and reason.
const serverClose = closed(t);
await t.send('close:4567:server bye', { channel: 'ctl' });
results.serverClose = await serverClose;

// Client close code reaches the server side (the server answers the same code).
const t2 = await open();
const c2 = closed(t2);
t2.close(4321, 'client bye');
results.clientClose = await c2;

// Size limit: a client that bypasses its own limit gets 1009 from the server.
const t3 = await open(4 * 1024 * 1024);
const c3 = closed(t3);
await t3.send(bytes(1024 * 1024 + 1)).catch(() => {});
results.oversizeClose = (await c3).code;

// Head-of-line: three channels at once; nobody reads channel a's echoes, while b and c keep flowing.
{
  const { raw } = await rawSession();
  const payload = new Uint8Array(16 * 1024);
  const [a, b, c] = await Promise.all([rawChannel(raw, 'a'), rawChannel(raw, 'b'), rawChannel(raw, 'c')]);
  const countEchoes = async (readable: ReadableStream<Uint8Array>, n: number) => {
    const reader = new FrameReader(1 << 20);
    const r = readable.getReader();
    let got = 0;
    while (got < n) {
      const { done, value } = await r.read();
      if (done) break;
      got += reader.push(value).length;
    }
    r.releaseLock();
    return got;
  };
  const frame = encodeFrame(FrameType.binary, payload);
  const writeMany = async (w: WritableStreamDefaultWriter<Uint8Array>, n: number) => {
    for (let i = 0; i < n; i++) await w.write(frame);
  };
  // a: 2000 x 16 KiB (32 MiB) whose echoes nobody reads; b and c: 300 each, read in full.
  void writeMany(a.writer, 2000);
  const t0 = performance.now();
  const [bGot, cGot] = await Promise.all([
    writeMany(b.writer, 300).then(() => countEchoes(b.stream.readable, 300)),
    writeMany(c.writer, 300).then(() => countEchoes(c.stream.readable, 300)),
  ]);
  results.headOfLine = { bGot, cGot, msWhileAStalled: Math.round(performance.now() - t0) };
  // Then read a: everything is still there, nothing lost while it was stalled.
  results.headOfLine = {
    ...(results.headOfLine as object),
    aGot: await countEchoes(a.stream.readable, 2000),
  };
  raw.close();
}

// Invalid UTF-8 in a text frame (written raw: the client never sends it): the server closes with 1007, for a
// small frame (decoded) and a large one (checked as bytes).
{
  const closeCodeFor = async (size: number): Promise<number | string> => {
    const { raw, control } = await rawSession();
    try {
      const { writer } = await rawChannel(raw, 'bad');
      // Valid up to its last two bytes: 0xC3 then 0x28 is a lead byte without its continuation.
      const payload = new Uint8Array(size).fill(0x61);
      payload.set([0xc3, 0x28], size - 2);
      await writer.write(encodeFrame(FrameType.text, payload));
      const reader = new FrameReader(1 << 16);
      const r = control.readable.getReader();
      for (;;) {
        const { done, value } = await r.read();
        if (done) return 'control stream ended without CLOSE';
        for (const frame of reader.push(value)) {
          if (frame.type === FrameType.close) {
            return new DataView(frame.payload.buffer, frame.payload.byteOffset, 2).getUint16(0);
          }
        }
      }
    } finally {
      raw.close();
    }
  };
  results.invalidUtf8Close = { small: await closeCodeFor(100), large: await closeCodeFor(64 * 1024) };
}

console.log(JSON.stringify(results));
Deno.exit(0);
