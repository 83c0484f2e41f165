/**
 * The JSON byte scanner accepts exactly what JSON.parse accepts: a corpus of edge cases, every escape, deep
 * nesting, and a differential fuzz of random mutations against JSON.parse. Then the envelope decoder from
 * bytes against JSON.parse + parseEnvelope, and RawJson.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonCodec } from './codec.ts';
import { parseEnvelope } from './envelope.ts';
import { isSwitchyardError } from './errors.ts';
import {
  JsonBytesError,
  MAX_JSON_DEPTH,
  scanJsonValue,
  stringScanner,
  useStringScanner,
  validateJson,
} from './json-bytes.ts';
import { decodeJsonEnvelopeBytes, RAW_JSON_MIN_BYTES } from './json-envelope.ts';
import { simdScanner } from './json-simd.ts';
import { RawJson } from './raw-json.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function scans(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
  try {
    validateJson(bytes, start, end);
    return true;
  } catch (error) {
    if (!(error instanceof JsonBytesError)) throw error;
    return false;
  }
}

/** The same text at every alignment in a bigger buffer (the word loop depends on the byte offset). */
function scansAtEveryOffset(text: string): boolean[] {
  const bytes = utf8(text);
  const out: boolean[] = [];
  for (let offset = 0; offset < 4; offset++) {
    const buffer = new Uint8Array(bytes.length + 8).fill(0x22);
    buffer.set(bytes, offset + 1);
    out.push(scans(buffer, offset + 1, offset + 1 + bytes.length));
  }
  return out;
}

const long = 'x'.repeat(300);

const VALID = [
  '0',
  '-0',
  '1e5',
  '1E+5',
  '-1.5e-3',
  '0.0',
  '123456789012345678901234567890',
  'true',
  'false',
  'null',
  '""',
  '"\\"\\\\\\/\\b\\f\\n\\r\\t"',
  '"\\u0041\\u00e9\\uFFFF"',
  '"\\ud800"',
  '"\\udc00\\ud800x"',
  '"é€😀"',
  ' \t\n\r{ "a" : [ 1 , 2 ] , "b" : { } } \n',
  '[]',
  '{}',
  '[[[]]]',
  '{"a":{"b":{"c":[null,true,false,"x",1.25]}}}',
  '{"a":1,"a":2}',
  `"${long}"`,
  `"${long}\\n${long}\\u1234${long}"`,
  `["${long}", {"${long}": "${long}é"}]`,
];

const INVALID = [
  '',
  ' ',
  '01',
  '1.',
  '.5',
  '-',
  '+1',
  '1e',
  '1e+',
  '0x10',
  'NaN',
  'Infinity',
  'tru',
  'nul',
  'True',
  '"abc',
  '"\\x"',
  '"\\u12"',
  '"\\u12G4"',
  '"a\tb"',
  '"a\nb"',
  '"\u0000"',
  '"\u001f"',
  "'a'",
  '[1,]',
  '[,1]',
  '{"a":1,}',
  '{"a"}',
  '{"a" 1}',
  '{a:1}',
  '{1:1}',
  '[1 2]',
  '[',
  '{',
  ']',
  '1 2',
  '{} x',
  '"a" "b"',
  `"${long}\u0001${long}"`,
  `"${long}`,
  `["${long}", "${long}\\q"]`,
  '\ufeff1',
];

// Every scanner test runs on both string paths: WebAssembly SIMD (the default in Node) and the JS word loop.
describe.each([
  ['SIMD', true],
  ['JS words', false],
])('JSON byte scanner (%s)', (_path, simd) => {
  const before = stringScanner();
  beforeAll(() => useStringScanner(simd ? simdScanner() : undefined));
  afterAll(() => useStringScanner(before));

  it.each(VALID)('accepts %s as JSON.parse does, at every alignment', (text) => {
    expect(parses(text)).toBe(true);
    expect(scansAtEveryOffset(text)).toEqual([true, true, true, true]);
  });

  it.each(INVALID)('rejects %s as JSON.parse does, at every alignment', (text) => {
    expect(parses(text)).toBe(false);
    expect(scansAtEveryOffset(text)).toEqual([false, false, false, false]);
  });

  it('accepts every escape and rejects every other byte after a backslash', () => {
    for (let c = 0x20; c < 0x7f; c++) {
      const text = `"${long}\\${String.fromCharCode(c)}${c === 0x75 ? '0a0A' : ''}${long}"`;
      expect(scansAtEveryOffset(text), text.slice(300, 310)).toEqual(Array(4).fill(parses(text)));
    }
  });

  it('finds a quote, a backslash or a control character in any byte of a word', () => {
    for (let at = 0; at < 8; at++) {
      for (const c of ['"', '\\', '\u0001', '\u001f', '\u0000']) {
        const text = `"${'a'.repeat(280 + at)}${c}${'b'.repeat(40)}"`;
        expect(scansAtEveryOffset(text)).toEqual(Array(4).fill(parses(text)));
      }
    }
  });

  it('finds a special byte at every position of a 300-byte string (byte loop, then words, then SIMD)', () => {
    for (let at = 0; at < 300; at++) {
      expect(scansAtEveryOffset(`"${'a'.repeat(at)}"`)).toEqual([true, true, true, true]);
      for (const c of ['"', '\\', '\\n', '\u0001', '\u00e9']) {
        const text = `["${'a'.repeat(at)}${c}${'b'.repeat(300 - at)}"]`;
        expect(scansAtEveryOffset(text), `${c} at ${at}`).toEqual(Array(4).fill(parses(text)));
      }
    }
  });

  it('nests up to MAX_JSON_DEPTH', () => {
    const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    expect(scans(utf8(deep(MAX_JSON_DEPTH)))).toBe(true);
    expect(scans(utf8(`${'{"a":'.repeat(MAX_JSON_DEPTH)}1${'}'.repeat(MAX_JSON_DEPTH)}`))).toBe(true);
    expect(() => validateJson(utf8(deep(MAX_JSON_DEPTH + 1)))).toThrow(/nested deeper/);
  });

  it('says where the JSON broke', () => {
    expect(() => validateJson(utf8('{"a": [1, 2,]}'))).toThrow(/at byte 12/);
    expect(() => validateJson(utf8('"abc'))).toThrow(/unterminated string at byte 4/);
  });

  it('scanJsonValue returns where the value ends, trailing bytes left to the caller', () => {
    expect(scanJsonValue(utf8('  [1, "x"] , 5'), 0)).toBe(10);
    expect(scanJsonValue(utf8('12}'), 0)).toBe(2);
  });

  it('differential fuzz: a mutated document is accepted iff JSON.parse accepts it', () => {
    let seed = 20;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const atoms = ['0', '-1.5e3', '"s"', 'true', 'null', `"${'w'.repeat(70)}"`, '"\\u00e9\\n"', '"é😀"'];
    const gen = (depth: number): string => {
      if (depth > 3 || random() < 0.3) return pick(atoms);
      const n = Math.floor(random() * 4);
      const items = Array.from({ length: n }, () => gen(depth + 1));
      return random() < 0.5
        ? `[${items.join(',')}]`
        : `{${items.map((v, i) => `"k${i}${'p'.repeat(i * 20)}":${v}`).join(', ')}}`;
    };
    const noise = [
      '"',
      '\\',
      ',',
      ':',
      '[',
      ']',
      '{',
      '}',
      ' ',
      '\u0001',
      '\t',
      'e',
      '.',
      '-',
      '0',
      'u',
      'x',
    ];
    let accepted = 0;
    for (let round = 0; round < 3000; round++) {
      let text = gen(0);
      const mutations = Math.floor(random() * 3);
      for (let m = 0; m < mutations; m++) {
        const at = Math.floor(random() * (text.length + 1));
        const kind = random();
        if (kind < 0.4) text = text.slice(0, at) + pick(noise) + text.slice(at);
        else if (kind < 0.8) text = text.slice(0, at) + text.slice(at + 1);
        else text = text.slice(0, at) + pick(noise) + text.slice(at + 1);
      }
      const expected = parses(text);
      if (expected) accepted++;
      expect(scansAtEveryOffset(text), text).toEqual(Array(4).fill(expected));
    }
    // Both outcomes were exercised.
    expect(accepted).toBeGreaterThan(300);
    expect(accepted).toBeLessThan(2700);
  });

  it('differential fuzz, large documents: special bytes anywhere, across the SIMD copy chunks (64 KiB)', () => {
    let seed = 21;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const runs = [
      'x'.repeat(70_000),
      'y'.repeat(65_519),
      'z'.repeat(200),
      'é€'.repeat(9_000),
      'w'.repeat(16),
    ];
    const noise = ['"', '\\', '\\n', '\\u00e9', '\\q', '\u0001', '\u001f', '\t', ' ', '\u007f', 'é'];
    let accepted = 0;
    for (let round = 0; round < 60; round++) {
      const parts = Array.from({ length: 1 + Math.floor(random() * 3) }, () => {
        const run = runs[Math.floor(random() * runs.length)] as string;
        return `"${run.slice(0, Math.floor(random() * run.length))}"`;
      });
      let text = random() < 0.5 ? `[${parts.join(',')}]` : `{"k":${parts.join(',"k2":')}}`;
      const mutations = Math.floor(random() * 3);
      for (let m = 0; m < mutations; m++) {
        // Near a chunk boundary (64 KiB from a string's 16th byte on) as often as anywhere.
        const at =
          random() < 0.5
            ? Math.min(text.length, 2 + 16 + 65_536 + Math.floor(random() * 64) - 32)
            : Math.floor(random() * (text.length + 1));
        text = text.slice(0, at) + (noise[Math.floor(random() * noise.length)] as string) + text.slice(at);
      }
      const expected = parses(text);
      if (expected) accepted++;
      expect(scansAtEveryOffset(text), `round ${round}`).toEqual(Array(4).fill(expected));
    }
    expect(accepted).toBeGreaterThan(10);
    expect(accepted).toBeLessThan(50);
  });
});

describe('envelope decoding from UTF-8 bytes', () => {
  const big = 'x'.repeat(RAW_JSON_MIN_BYTES);
  const bigObject = { list: Array.from({ length: 2000 }, (_, i) => ({ i, s: `é${i}` })) };
  const corpus = [
    { type: 'pub', id: 'a', topic: 't', data: big },
    { type: 'pub', id: 'a', topic: 't', data: bigObject },
    { type: 'vpub', topic: 't', data: [big, 1, null] },
    { data: big, topic: 't', type: 'vpub' },
    { type: 'pub', id: 'small', topic: 't', data: { a: 1 }, pad: big },
  ];

  it.each(corpus.map((e) => [JSON.stringify(e).slice(0, 60), e] as const))(
    'gives what decode of the text gives: %s',
    (_, envelope) => {
      const text = JSON.stringify(envelope, null, envelope.type === 'vpub' ? 1 : undefined);
      const fromBytes = jsonCodec.decodeUtf8(utf8(text)) as unknown as Record<string, unknown>;
      const data = fromBytes.data;
      const large = JSON.stringify(envelope.data).length >= RAW_JSON_MIN_BYTES;
      expect(data instanceof RawJson).toBe(large);
      // The RawJson's value and JSON.stringify of the whole are the text's.
      expect(JSON.parse(JSON.stringify(fromBytes))).toEqual(jsonCodec.decode(text));
      if (data instanceof RawJson) expect(data.value()).toEqual(envelope.data);
    },
  );

  it('duplicate keys: the last wins, as JSON.parse; __proto__ is a plain key', () => {
    const text = `{"type":"vpub","topic":"a","data":"${big}","topic":"b","__proto__":{"x":1}}`;
    const envelope = decodeJsonEnvelopeBytes(utf8(text)) as unknown as Record<string, unknown>;
    expect(envelope.topic).toBe('b');
    expect(Object.getPrototypeOf(envelope)).toBe(Object.prototype);
    expect(Object.hasOwn(envelope, '__proto__')).toBe(true);
    expect(JSON.stringify(envelope)).toBe(JSON.stringify(parseEnvelope(JSON.parse(text))));
  });

  it('small fields: escaped and non-ASCII keys and strings, numbers like -0 and 1e5, literals, nested values', () => {
    const text = `{"t\\u0079pe":"vpub","topic":"caf\u00e9\\n","data":"${big}","n":-0,"e":1E5,"f":-1.25e-2,"b":true,"z":null,"o":{"a":[1]},"long":"${'k'.repeat(100)}"}`;
    const envelope = decodeJsonEnvelopeBytes(utf8(text)) as unknown as Record<string, unknown>;
    const expected = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(envelope)).toEqual(Object.keys(expected));
    for (const key of Object.keys(expected)) {
      if (key === 'data') expect((envelope.data as RawJson).value()).toBe(expected.data);
      else
        expect(
          Object.is(envelope[key], expected[key]) ||
            JSON.stringify(envelope[key]) === JSON.stringify(expected[key]),
          key,
        ).toBe(true);
    }
    expect(Object.is(envelope.n, -0)).toBe(true);
  });

  const broken: [string, string][] = [
    ['a raw control character in data', `{"type":"pub","id":"1","topic":"t","data":"${big}\u0001"}`],
    ['an unterminated data string', `{"type":"pub","id":"1","topic":"t","data":"${big}`],
    ['a trailing comma in data', `{"type":"pub","id":"1","topic":"t","data":["${big}",]}`],
    ['garbage after the object', `{"type":"pub","id":"1","topic":"t","data":"${big}"} x`],
    ['a missing field', `{"type":"pub","topic":"t","data":"${big}"}`],
    ['not an object', `["${big}"]`],
  ];
  it.each(broken)('%s: ERR_INVALID_ENVELOPE with close code BadEnvelope, as from the text', (_, text) => {
    const fromText = catchError(() => jsonCodec.decode(text));
    const fromBytes = catchError(() => jsonCodec.decodeUtf8(utf8(text)));
    expect(fromText.code).toBe('ERR_INVALID_ENVELOPE');
    expect(fromBytes.code).toBe('ERR_INVALID_ENVELOPE');
    expect(fromBytes.closeCode).toBe(fromText.closeCode);
  });

  it('the error says at which byte the JSON broke', () => {
    const text = `{"type":"pub","id":"1","topic":"t","data":["${big}",]}`;
    expect(catchError(() => jsonCodec.decodeUtf8(utf8(text))).message).toMatch(
      new RegExp(`at byte ${text.length - 2}`),
    );
  });
});

function catchError(run: () => unknown): { code: string; closeCode: number | undefined; message: string } {
  try {
    run();
  } catch (error) {
    if (isSwitchyardError(error))
      return { code: error.code, closeCode: error.closeCode, message: error.message };
    throw error;
  }
  throw new Error('did not throw');
}

describe('RawJson', () => {
  it('validates unless told, gives its text and value, and stringifies as its value', () => {
    expect(() => new RawJson(utf8('[1,'))).toThrow(JsonBytesError);
    const raw = new RawJson(utf8(' {"a":[1,"é"]} '));
    expect(raw.byteLength).toBe(16);
    expect(raw.text()).toBe(' {"a":[1,"é"]} ');
    expect(raw.value()).toEqual({ a: [1, 'é'] });
    expect(JSON.stringify({ data: raw })).toBe('{"data":{"a":[1,"é"]}}');
  });

  it('a msg envelope with RawJson data: the JSON codec splices the text, msgpack encodes the value', async () => {
    const big = 'x'.repeat(RAW_JSON_MIN_BYTES);
    const raw = new RawJson(utf8(`{"s":"${big}"}`));
    const text = jsonCodec.encode({ type: 'msg', topic: 't"', seq: 3, data: raw }) as string;
    expect(JSON.parse(text)).toEqual({ type: 'msg', topic: 't"', seq: 3, data: { s: big } });
    const vmsg = jsonCodec.encode({ type: 'vmsg', topic: 't', data: raw }) as string;
    expect(JSON.parse(vmsg)).toEqual({ type: 'vmsg', topic: 't', data: { s: big } });
    const { msgpackCodec } = await import('./codec.ts');
    const packed = msgpackCodec.encode({ type: 'msg', topic: 't', seq: 3, data: raw });
    expect(msgpackCodec.decode(packed)).toEqual({ type: 'msg', topic: 't', seq: 3, data: { s: big } });
  });
});
