/**
 * Envelope codecs: JSON on text frames (readable in devtools) and MessagePack on binary frames
 * (smaller, carries bytes without base64). Decoding never throws anything but a SwitchyardError.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { CloseCode } from './close-codes.ts';
import { type Envelope, parseEnvelope } from './envelope.ts';
import { SwitchyardError } from './errors.ts';
import type { Payload } from './transport.ts';

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

export const jsonCodec: Codec = {
  name: 'json',
  encode(envelope) {
    // The server's most frequent envelope, built without the generic serializer; the same text as it.
    if (envelope.type === 'ack') return `{"type":"ack","id":${JSON.stringify(envelope.id)}}`;
    return JSON.stringify(envelope);
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

export const codecs: Record<CodecName, Codec> = { json: jsonCodec, msgpack: msgpackCodec };

/** Picks the codec by the payload itself, so one server serves text and binary clients alike. */
export function decodeAny(payload: Payload): Envelope {
  return typeof payload === 'string' ? jsonCodec.decode(payload) : msgpackCodec.decode(payload);
}
