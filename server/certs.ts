/**
 * Development certificates for WebTransport: browsers accept a self-signed certificate through
 * `serverCertificateHashes` only if it is ECDSA P-256 (or similar) and valid for at most 14 days, so we
 * generate one in memory (never written to the repo or logs), valid for 13 days, and publish its SHA-256.
 * WebCrypto + @peculiar/x509, so Node and Deno generate it the same way. A real certificate (TLS_CERT /
 * TLS_KEY paths) replaces it, and then no hashes are published.
 */
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata polyfill.
import 'reflect-metadata';
import { SubjectAlternativeNameExtension, X509CertificateGenerator } from '@peculiar/x509';
import { bytesToBase64 } from '../src/base64.ts';
import type { CertificateHash } from '../src/negotiate.ts';

export interface DevCertificate {
  /** PEM, for the QUIC/TLS listener. */
  readonly cert: string;
  /** PKCS#8 PEM. Keep it in memory; never log it. */
  readonly key: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** What `/rt/negotiate` publishes as `certificateHashes`. */
  readonly hash: CertificateHash;
}

/** Browsers refuse `serverCertificateHashes` for certificates valid longer than 14 days. */
export const MAX_VALIDITY_DAYS = 13;
const DAY = 24 * 60 * 60 * 1000;

function pem(label: string, der: ArrayBuffer): string {
  const body = bytesToBase64(new Uint8Array(der)).replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${body}${body.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

export async function sha256Base64(der: ArrayBuffer): Promise<string> {
  return bytesToBase64(new Uint8Array(await crypto.subtle.digest('SHA-256', der)));
}

export async function generateDevCertificate(
  options: { hosts?: readonly string[]; validityDays?: number; now?: Date } = {},
): Promise<DevCertificate> {
  const validityDays = Math.min(options.validityDays ?? MAX_VALIDITY_DAYS, MAX_VALIDITY_DAYS);
  const now = options.now ?? new Date();
  // Backdate a little so a client clock slightly behind still accepts it.
  const notBefore = new Date(now.getTime() - 60 * 60 * 1000);
  const notAfter = new Date(notBefore.getTime() + validityDays * DAY);
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await crypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
  const hosts = options.hosts ?? ['localhost', '127.0.0.1', '::1'];
  const names = hosts.map((h) =>
    /^[\d.]+$|:/.test(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h },
  );
  const certificate = await X509CertificateGenerator.createSelfSigned({
    serialNumber: toHex(crypto.getRandomValues(new Uint8Array(16))),
    name: 'CN=switchyard development',
    notBefore,
    notAfter,
    signingAlgorithm: algorithm,
    keys,
    extensions: [new SubjectAlternativeNameExtension(names)],
  });
  const der = certificate.rawData;
  return {
    cert: pem('CERTIFICATE', der),
    key: pem('PRIVATE KEY', await crypto.subtle.exportKey('pkcs8', keys.privateKey)),
    notBefore,
    notAfter,
    hash: { algorithm: 'sha-256', value: await sha256Base64(der) },
  };
}

function toHex(bytes: Uint8Array): string {
  // A positive serial: clear the top bit.
  bytes[0] = bytes[0]! & 0x7f;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * When to replace a certificate: a day before it expires, so that clients that fetched the old hash keep
 * connecting while new ones get the new hash (both are published during the overlap).
 */
export function renewalDelayMs(certificate: Pick<DevCertificate, 'notAfter'>, now = Date.now()): number {
  return Math.max(0, certificate.notAfter.getTime() - DAY - now);
}
