/**
 * WebTransport rung, client side, over the W3C `WebTransport` API: native in browsers and Deno; Node passes
 * the @fails-components/webtransport constructor (./node.ts). Self-signed development servers are reached
 * with `serverCertificateHashes` from `/rt/negotiate`.
 */
import { base64ToBytes } from '../../src/base64.ts';
import { SwitchyardError } from '../../src/errors.ts';
import type { CertificateHash } from '../../src/negotiate.ts';
import type { Transport, TransportConnectOptions } from '../../src/transport.ts';
import { DEFAULT_LIMITS } from '../../src/transport.ts';
import { WebTransportConnection, type WebTransportSessionLike } from './connection.ts';

export type WebTransportConstructor = new (
  url: string,
  options?: { serverCertificateHashes?: { algorithm: string; value: BufferSource }[] },
) => WebTransportSessionLike;

export interface WebTransportTransportOptions extends TransportConnectOptions {
  /** From `/rt/negotiate`; needed for self-signed certificates (valid at most 14 days). */
  readonly certificateHashes?: readonly CertificateHash[];
  /** Defaults to `globalThis.WebTransport`. */
  readonly WebTransport?: WebTransportConstructor;
  /** `h2` for WebTransport over HTTP/2 (the Node polyfill's fallback): streams share one TCP connection. */
  readonly protocol?: 'h3' | 'h2';
}

export class WebTransportTransport extends WebTransportConnection implements Transport {
  constructor(options: WebTransportTransportOptions) {
    const Ctor =
      options.WebTransport ?? (globalThis as { WebTransport?: WebTransportConstructor }).WebTransport;
    if (!Ctor) throw new SwitchyardError('ERR_UNSUPPORTED', 'no WebTransport in this runtime');
    const hashes = options.certificateHashes?.map((h) => ({
      algorithm: h.algorithm,
      value: base64ToBytes(h.value),
    }));
    const session = new Ctor(
      options.url,
      hashes && hashes.length > 0 ? { serverCertificateHashes: hashes } : {},
    );
    super(session, {
      role: 'client',
      protocol: options.protocol ?? 'h3',
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_LIMITS.maxMessageBytes,
      highWaterMark: options.highWaterMark ?? DEFAULT_LIMITS.highWaterMark,
    });
  }
}

export function createWebTransportTransport(options: WebTransportTransportOptions): Transport {
  return new WebTransportTransport(options);
}
