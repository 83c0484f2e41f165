/**
 * The client conformance suite: what an app observes through `createClient`, written once and run over every
 * rung from every runtime that has it — Node (test/conformance/client.test.ts), Deno over native HTTP/3
 * (client-deno.deno.ts) and real browsers (e2e/client-conformance.spec.ts). It imports nothing but the client
 * and the MessagePack codec, so that it bundles for a browser page. Each scenario throws with what it saw; the
 * runner reports per name.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Client, ClientMessage, ClientOptions } from '../../src/client/index.ts';
import { msgpackCodec } from '../../src/codec.ts';
import type { TransportKind } from '../../src/transport.ts';

/** How a runtime hands the suite a client pinned to one rung of one server. */
export interface ClientRig {
  readonly kind: TransportKind;
  /** A client on `kind` only, with the server's URL, the runtime's rungs and a token source where needed. */
  create<In = unknown>(options?: Partial<ClientOptions<In>>): Client<In>;
  /** A topic name clients may publish to on this server (servers may restrict names). */
  topic(name: string): string;
}

export type SuiteResults = Record<string, 'ok' | string>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

/** Subscribes and waits for the server's baseline, so that what is published next is seen. */
async function follow<In>(client: Client<In>, topic: string): Promise<ClientMessage<In>[]> {
  const seen: ClientMessage<In>[] = [];
  client.on('message', (m) => {
    if (m.topic === topic) seen.push(m);
  });
  const sub = client.subscribe(topic);
  await until(() => sub.lastSeq !== undefined, `subscription to ${topic}`);
  return seen;
}

/** A Standard Schema by hand (no library in the page): `{ n: number }`. */
const numbered: StandardSchemaV1<unknown, { n: number }> = {
  '~standard': {
    version: 1,
    vendor: 'switchyard-test',
    validate: (value) =>
      typeof value === 'object' && value !== null && typeof (value as { n?: unknown }).n === 'number'
        ? { value: value as { n: number } }
        : { issues: [{ message: 'expected { n: number }', path: ['n'] }] },
  },
};

/**
 * A JSON document of `rows` records (~100 bytes of JSON each) holding every kind of JSON value: nested objects
 * and arrays, integers, negative and exponent floats, booleans, null, empty containers, escapes, and text
 * outside ASCII (a surrogate pair included).
 */
function largeDocument(rows: number): unknown {
  return {
    title: 'Sch\u00e9ma "quoted" \\ back\\slash \t tab \n newline \u2028 \ud83d\ude80',
    empty: { object: {}, array: [], text: '' },
    rows: Array.from({ length: rows }, (_, i) => ({
      id: i,
      name: `row ${i} — ${String.fromCharCode(0x4e00 + (i % 500))}`,
      score: i % 7 === 0 ? -i / 3 : i * 1.5e-7,
      flags: [i % 2 === 0, null, i % 3 === 0],
      tags: i % 5 === 0 ? [] : ['a', 'b\u0001', `c${i}`],
    })),
  };
}

export const scenarios: Record<string, (rig: ClientRig) => Promise<void>> = {
  async 'reliable: every message once, in order, with its sequence, acked'(rig) {
    const client = rig.create();
    try {
      await client.connect();
      const topic = rig.topic('reliable');
      const seen = await follow(client, topic);
      await Promise.all(Array.from({ length: 200 }, (_, n) => client.publish(topic, { n })));
      await until(() => seen.length >= 200, '200 messages');
      check(
        seen.every((m, i) => m.reliable && m.seq === i + 1 && (m.data as { n: number }).n === i),
        `out of order or wrong seq: ${JSON.stringify(seen.slice(0, 5))}`,
      );
      check(client.rung === rig.kind, `landed on ${client.rung}, not ${rig.kind}`);
    } finally {
      client.dispose();
    }
  },

  async 'topics: several topics interleaved, each in its own order'(rig) {
    const client = rig.create();
    try {
      await client.connect();
      const topics = ['a', 'b', 'c', 'd', 'e'].map((t) => rig.topic(`multi.${t}`));
      const seen = await Promise.all(topics.map((t) => follow(client, t)));
      const sends: Promise<void>[] = [];
      for (let n = 0; n < 40; n++) for (const t of topics) sends.push(client.publish(t, { n }));
      await Promise.all(sends);
      await until(() => seen.every((s) => s.length >= 40), 'every topic');
      for (const s of seen) {
        check(
          s.every((m, i) => m.seq === i + 1 && (m.data as { n: number }).n === i),
          'a topic out of order',
        );
      }
    } finally {
      client.dispose();
    }
  },

  async 'many topics: more topics than lanes share them, each still in order'(rig) {
    // 40 topics against the default 16 lanes per direction (and browsers' caps on concurrent streams).
    const client = rig.create();
    try {
      await client.connect();
      const topics = Array.from({ length: 40 }, (_, i) => rig.topic(`many.${i}`));
      const seen = await Promise.all(topics.map((t) => follow(client, t)));
      const sends: Promise<void>[] = [];
      for (let n = 0; n < 10; n++) for (const t of topics) sends.push(client.publish(t, { n }));
      await Promise.all(sends);
      await until(() => seen.every((s) => s.length >= 10), 'every topic');
      check(
        seen.every((s) => s.every((m, i) => m.seq === i + 1)),
        'a topic out of order',
      );
    } finally {
      client.dispose();
    }
  },

  async 'unreliable: delivered without sequence or ack, counted'(rig) {
    const client = rig.create();
    try {
      await client.connect();
      const topic = rig.topic('cursor');
      const seen = await follow(client, topic);
      for (let n = 0; n < 100; n++) {
        await client.publish(topic, { n, x: n * 3 }, { reliable: false });
        if (n % 10 === 9) await sleep(5);
      }
      // Unreliable means it may be lost; on loopback, not backed up, nearly all of it arrives.
      await until(() => seen.length >= 90, 'most unreliable messages', 5000);
      check(
        seen.every((m) => !m.reliable && m.seq === undefined),
        'an unreliable message carried a seq',
      );
      check(client.stats.volatileSent === 100, `volatileSent ${client.stats.volatileSent}, expected 100`);
      check(client.pending === 0, 'an unreliable publish waits for an ack');
    } finally {
      client.dispose();
    }
  },

  async 'unreliable: larger than a datagram still arrives (on the topic stream)'(rig) {
    const client = rig.create();
    try {
      await client.connect();
      const topic = rig.topic('big');
      const seen = await follow(client, topic);
      const pad = 'y'.repeat(8 * 1024);
      await client.publish(topic, { n: 1, pad }, { reliable: false });
      await until(() => seen.length >= 1, 'the large unreliable message', 5000);
      check((seen[0]?.data as { pad?: string } | undefined)?.pad === pad, 'payload changed');
    } finally {
      client.dispose();
    }
  },

  async 'a large message arrives whole, live and replayed from history'(rig) {
    // 20,000 characters, 40 KB of UTF-8: past the WebSocket rung's fragment threshold and the embedded hub's
    // packing threshold, so this is the fragmented send and the packed history, in every client runtime.
    const writer = rig.create();
    const reader = rig.create();
    try {
      await Promise.all([writer.connect(), reader.connect()]);
      const topic = rig.topic('large');
      const seen = await follow(reader, topic);
      const text = 'z€'.repeat(10_000);
      await writer.publish(topic, text);
      await until(() => seen.length >= 1, 'the large message', 5000);
      check(seen[0]?.data === text, 'live payload changed');
      const late = rig.create();
      try {
        await late.connect();
        const replayed: ClientMessage[] = [];
        late.on('message', (m) => replayed.push(m));
        late.subscribe(topic, { since: (seen[0]?.seq ?? 1) - 1 });
        await until(() => replayed.length >= 1, 'the replay', 5000);
        check(replayed[0]?.data === text, 'replayed payload changed');
      } finally {
        late.dispose();
      }
    } finally {
      writer.dispose();
      reader.dispose();
    }
  },

  async 'a large JSON document arrives equal, live and replayed from history, in either codec'(rig) {
    // ~330 KB of JSON with every kind of value: past the size from which a server keeps `data` as its bytes
    // (docs/protocol.md, "Large JSON messages") and V8's large-object threshold, so the byte path's validation,
    // history and splicing are checked on every rung, from every client runtime, against what the app sent;
    // a MessagePack reader gets the same value from the server (its JSON bytes decoded once for that codec).
    const doc = largeDocument(3000);
    const expected = JSON.stringify(doc);
    const writer = rig.create();
    const readers = [rig.create(), rig.create({ codec: msgpackCodec })];
    const all = [writer, ...readers];
    try {
      await Promise.all(all.map((c) => c.connect()));
      const topic = rig.topic('document');
      const seen = await Promise.all(readers.map((r) => follow(r, topic)));
      await writer.publish(topic, doc);
      await until(() => seen.every((s) => s.length >= 1), 'the document', 10_000);
      for (const [i, s] of seen.entries()) {
        check(JSON.stringify(s[0]?.data) === expected, `live document changed (reader ${i})`);
      }
      const late = rig.create();
      all.push(late);
      await late.connect();
      const replayed: ClientMessage[] = [];
      late.on('message', (m) => replayed.push(m));
      late.subscribe(topic, { since: (seen[0]?.[0]?.seq ?? 1) - 1 });
      await until(() => replayed.length >= 1, 'the replay', 10_000);
      check(JSON.stringify(replayed[0]?.data) === expected, 'replayed document changed');
    } finally {
      for (const c of all) c.dispose();
    }
  },

  async 'unreliable and reliable on one topic; only reliable ones are replayed on resume'(rig) {
    const writer = rig.create();
    const reader = rig.create();
    try {
      await Promise.all([writer.connect(), reader.connect()]);
      const topic = rig.topic('mixed');
      const seen = await follow(reader, topic);
      await writer.publish(topic, { n: 1 });
      await writer.publish(topic, { n: 2 }, { reliable: false });
      await until(() => seen.length >= 2, 'both messages');
      const position = seen.find((m) => m.reliable)?.seq ?? 0;
      // A new reader resuming from before the first message gets the reliable one only.
      const late = rig.create();
      try {
        await late.connect();
        const replayed: ClientMessage[] = [];
        late.on('message', (m) => replayed.push(m));
        late.subscribe(topic, { since: position - 1 });
        await until(() => replayed.length >= 1, 'the replay');
        await sleep(200);
        check(
          replayed.length === 1 && replayed[0]?.reliable === true,
          `replay was ${JSON.stringify(replayed)}`,
        );
      } finally {
        late.dispose();
      }
    } finally {
      writer.dispose();
      reader.dispose();
    }
  },

  async 'unreliable while not connected: dropped and counted, never sent later'(rig) {
    const client = rig.create({ autoConnect: false });
    const reader = rig.create();
    try {
      await reader.connect();
      const topic = rig.topic('offline');
      const seen = await follow(reader, topic);
      await client.publish(topic, { n: 0 }, { reliable: false });
      check(client.stats.volatileDropped === 1, 'not counted as dropped');
      await client.connect();
      await client.publish(topic, { n: 1 }, { reliable: true });
      await until(() => seen.length >= 1, 'the reliable message');
      await sleep(200);
      check(
        seen.length === 1 && (seen[0]?.data as { n?: number } | undefined)?.n === 1,
        `saw ${JSON.stringify(seen)}`,
      );
    } finally {
      client.dispose();
      reader.dispose();
    }
  },

  async 'typed messages: the schema applies to unreliable messages too'(rig) {
    const client = rig.create({ messages: numbered });
    try {
      await client.connect();
      const topic = rig.topic('typed');
      const errors: { code: string; seq?: number }[] = [];
      client.on('error', (e) => errors.push({ code: e.code, seq: (e as { seq?: number }).seq }));
      const seen = await follow(client, topic);
      await client.publish(topic, { wrong: true }, { reliable: false });
      await client.publish(topic, { n: 7 }, { reliable: false });
      await until(() => seen.length >= 1 && errors.length >= 1, 'one message and one error', 5000);
      check(errors[0]?.code === 'ERR_VALIDATION' && errors[0].seq === undefined, JSON.stringify(errors));
      check((seen[0]?.data as { n?: number } | undefined)?.n === 7, 'the valid message was not delivered');
    } finally {
      client.dispose();
    }
  },
};

/** Runs every scenario (or those named) on one rig, one at a time; never throws. */
export async function runSuite(rig: ClientRig, names = Object.keys(scenarios)): Promise<SuiteResults> {
  const results: SuiteResults = {};
  for (const name of names) {
    try {
      await (scenarios[name] as (rig: ClientRig) => Promise<void>)(rig);
      results[name] = 'ok';
    } catch (error) {
      results[name] = (error as Error)?.message ?? String(error);
    }
  }
  return results;
}
