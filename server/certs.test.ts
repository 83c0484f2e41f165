import 'reflect-metadata';
import { X509Certificate } from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { generateDevCertificate, MAX_VALIDITY_DAYS, renewalDelayMs, sha256Base64 } from './certs.ts';

describe('development certificates for WebTransport', () => {
  it('is ECDSA P-256, valid at most 13 days, and its published hash is SHA-256 of the DER', async () => {
    const now = new Date('2026-11-24T00:00:00Z');
    const generated = await generateDevCertificate({ now });
    const cert = new X509Certificate(generated.cert);
    expect(cert.publicKey.algorithm).toMatchObject({ name: 'ECDSA', namedCurve: 'P-256' });
    const days = (cert.notAfter.getTime() - cert.notBefore.getTime()) / 86_400_000;
    expect(days).toBeLessThanOrEqual(MAX_VALIDITY_DAYS);
    expect(days).toBeLessThan(14);
    expect(cert.notBefore.getTime()).toBeLessThanOrEqual(now.getTime());
    expect(generated.hash).toEqual({ algorithm: 'sha-256', value: await sha256Base64(cert.rawData) });
    expect(generated.key).toContain('-----BEGIN PRIVATE KEY-----');
    expect(await cert.verify({ date: now })).toBe(true);
  });

  it('never exceeds the browser limit even when asked for longer', async () => {
    const generated = await generateDevCertificate({ validityDays: 30 });
    expect((generated.notAfter.getTime() - generated.notBefore.getTime()) / 86_400_000).toBe(
      MAX_VALIDITY_DAYS,
    );
  });

  it('schedules renewal one day before expiry', () => {
    const notAfter = new Date(Date.UTC(2026, 0, 14));
    expect(renewalDelayMs({ notAfter }, Date.UTC(2026, 0, 1))).toBe(12 * 86_400_000);
    expect(renewalDelayMs({ notAfter }, Date.UTC(2026, 0, 14))).toBe(0);
  });
});
