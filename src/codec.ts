/**
 * Envelope codecs: JSON on text frames (readable in devtools) and MessagePack on binary frames
 * (smaller, carries bytes without base64). Decoding never throws anything but a SwitchyardError.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { CloseCode } from './close-codes.ts';
import { type Envelope, parseEnvelope } from './envelope.ts';
import { SwitchyardError } from './errors.ts';
import { decodeJsonEnvelopeBytes, RAW_JSON_MIN_BYTES } from './json-envelope.ts';
import { RawJson } from './raw-json.ts';
import type { Payload } from './transport.ts';
import { decodeValidUtf8 } from './utf8.ts';

export type CodecName = 'json' | 'msgpack';

export interface Codec {
  readonly name: CodecName;
  encode(envelope: Envelope): Payload;
  /** Decodes and validates; throws `ERR_INVALID_ENVELOPE` (close code BadEnvelope) on anything else. */
  decode(payload: Payload): Envelope;
}

function invalid(message: string, cause: unknown): SwitchyardError {
  return new SwitchyardError('ERR_INVALID_ENVELOPE', message, { closeCode: CloseCode.BadEnvelope, cause });
}

/** The JSON codec also decodes a text message from its UTF-8 bytes, where a rung has them (src/transport.ts). */
export interface JsonCodec extends Codec {
  /**
   * The same envelope as `decode` of the text, except that a `data` of RAW_JSON_MIN_BYTES or more is a
   * `RawJson` (its validated bytes, never made a string). `bytes` must be valid UTF-8; they are kept.
   */
  decodeUtf8(bytes: Uint8Array): Envelope;
}

/**
 * A `msg` or `vmsg` whose `data` is a RawJson, as JSON: `head`, then the data's text as it is, then `}`
 * (JSON.stringify would parse the data, via toJSON, to write it again). Undefined for any other envelope. One
 * place for this text, which `encode` writes as a string and a server may write as bytes (src/utf8-text.ts).
 */
export function rawJsonMessage(
  envelope: Envelope,
): { readonly head: string; readonly data: RawJson } | undefined {
  if ((envelope.type !== 'msg' && envelope.type !== 'vmsg') || !(envelope.data instanceof RawJson))
    return undefined;
  const seq = envelope.type === 'msg' ? `,"seq":${envelope.seq}` : '';
  return {
    head: `{"type":"${envelope.type}","topic":${JSON.stringify(envelope.topic)}${seq},"data":`,
    data: envelope.data,
  };
}

export const jsonCodec: JsonCodec = {
  name: 'json',
  encode(envelope) {
    // The server's most frequent envelope, built without the generic serializer; the same text as it.
    if (envelope.type === 'ack') return `{"type":"ack","id":${JSON.stringify(envelope.id)}}`;
    const raw = rawJsonMessage(envelope);
    if (raw) return `${raw.head}${raw.data.text()}}`;
    return JSON.stringify(envelope);
  },
  decodeUtf8(bytes) {
    if (bytes.byteLength < RAW_JSON_MIN_BYTES) return jsonCodec.decode(decodeValidUtf8(bytes));
    return decodeJsonEnvelopeBytes(bytes);
  },
  decode(payload) {
    if (typeof payload !== 'string')
      throw invalid('json codec: expected a text payload, got binary', undefined);
    let value: unknown;
    try {
      value = JSON.parse(payload);
    } catch (cause) {
      throw invalid(`json codec: not JSON (${(cause as Error).message})`, cause);
    }
    return parseEnvelope(value);
  },
};

/**
 * One encoder and one decoder for every message: the library's `encode()` / `decode()` functions build a new
 * one per call (with a 2 KiB working buffer each), which was 5 % of the server's CPU per 64 KiB `pub`.
 * Both are reentrant (a nested call gets its own instance) and `encode` returns a copy of its buffer.
 */
const msgpackEncoder = new Encoder({ ignoreUndefined: true });
const msgpackDecoder = new Decoder({
  maxStrLength: 16 * 1024 * 1024,
  maxArrayLength: 1_000_000,
  maxMapLength: 100_000,
});

export const msgpackCodec: Codec = {
  name: 'msgpack',
  encode(envelope) {
    // A RawJson (a large JSON `pub`'s data) goes out as its value: correct for MessagePack clients, not free.
    if ('data' in envelope && envelope.data instanceof RawJson) {
      return msgpackEncoder.encode({ ...envelope, data: envelope.data.value() });
    }
    return msgpackEncoder.encode(envelope);
  },
  decode(payload) {
    if (typeof payload === 'string')
      throw invalid('msgpack codec: expected a binary payload, got text', undefined);
    let value: unknown;
    try {
      value = msgpackDecoder.decode(payload);
    } catch (cause) {
      throw invalid(`msgpack codec: not MessagePack (${(cause as Error).message})`, cause);
    }
    return parseEnvelope(value);
  },
};

export const codecs: { readonly json: JsonCodec; readonly msgpack: Codec } = {
  json: jsonCodec,
  msgpack: msgpackCodec,
};

/** Picks the codec by the payload itself, so one server serves text and binary clients alike. */
export function decodeAny(payload: Payload): Envelope {
  return typeof payload === 'string' ? jsonCodec.decode(payload) : msgpackCodec.decode(payload);
}
