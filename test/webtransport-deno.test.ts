/**
 * The WebTransport rung over native HTTP/3 on this machine: a Deno client against the Deno binding, the
 * same checks as the conformance suite where they apply plus datagrams (test/webtransport-deno.deno.ts).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DENO_RUN, type DenoServer, denoBinary, launchDenoServer } from '../server/deno/launch.ts';

const run = promisify(execFile);

describe.skipIf(!denoBinary())('webtransport over HTTP/3: Deno client -> Deno server', () => {
  let server: DenoServer;
  let results: Record<string, unknown>;

  beforeAll(async () => {
    process.env.SWITCHYARD_APP = 'echo';
    server = await launchDenoServer({ port: 0 });
    delete process.env.SWITCHYARD_APP;
    const { stdout } = await run(denoBinary()!, [...DENO_RUN, 'test/webtransport-deno.deno.ts', server.url], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      timeout: 60_000,
    });
    results = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  }, 90_000);

  afterAll(async () => {
    await server?.close();
  });

  it('reports HTTP/3 capabilities: unreliable datagrams and independent streams', () => {
    expect(results.capabilities).toMatchObject({
      datagrams: true,
      independentStreams: true,
      binary: true,
      upstream: 'native',
    });
  });

  it('echoes text and bytes exactly', () => {
    expect(results.textExact).toBe(true);
    expect(results.binaryExact).toBe(true);
  });

  it('echoes a 300 KB text with every UTF-8 length exactly (validated as bytes past 16 KiB)', () => {
    expect(results.largeTextExact).toBe(true);
  });

  it('closes with 1007 on invalid UTF-8 in a text frame, small or large', () => {
    expect(results.invalidUtf8Close).toEqual({ small: 1007, large: 1007 });
  });

  it('keeps channels apart (a stream each)', () => {
    expect(results.channels).toEqual(['alpha=a', 'beta=b', 'gamma=c']);
  });

  it('delivers 10,000 messages in order', () => {
    expect(results.inOrder).toBe(true);
  });

  it('round-trips a datagram, refuses an oversize one, and most of a burst arrives', () => {
    expect(results.datagram).toEqual({ data: 'ping', channel: 'dg', unreliable: true });
    expect(results.maxDatagramBytes).toBeGreaterThan(1000);
    expect(results.oversizeDatagram).toBe('ERR_DATAGRAM_TOO_BIG');
    expect(results.datagramsArrived).toBeGreaterThanOrEqual(400); // of 500: a floor, not perfection
  });

  it('carries close codes and reasons both ways', () => {
    expect(results.serverClose).toEqual({ code: 4567, reason: 'server bye', wasClean: true });
    expect(results.clientClose).toMatchObject({ code: 4321, reason: 'client bye', wasClean: true });
  });

  it('has no head-of-line blocking: channels b and c flow in full while nobody reads channel a', () => {
    // a's 32 MiB of echoes exceed the stream's flow-control window, so the server's writes on a are stuck
    // while b and c complete; afterwards a's echoes are all still there.
    expect(results.headOfLine).toMatchObject({ bGot: 300, cGot: 300, aGot: 2000 });
  });

  it('rotates its certificate without dropping sessions, publishing the next hash ahead of the switch', async () => {
    process.env.SWITCHYARD_APP = 'echo';
    process.env.CERT_ROTATE_MS = '4000';
    const rotating = await launchDenoServer({ port: 0 });
    delete process.env.SWITCHYARD_APP;
    delete process.env.CERT_ROTATE_MS;
    try {
      const { stdout } = await run(
        denoBinary()!,
        [...DENO_RUN, 'test/webtransport-rotation.deno.ts', rotating.url, '4000'],
        { cwd: fileURLToPath(new URL('..', import.meta.url)), timeout: 60_000 },
      );
      const rotation = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
      expect(rotation).toMatchObject({
        before: 'before',
        hashesBefore: 1,
        hashesDuringOverlap: 2,
        rotated: true,
        longLivedAfter: 'after',
        staleOfferConnects: 'stale offer',
        freshOfferConnects: 'fresh offer',
      });
    } finally {
      await rotating.close();
    }
  }, 60_000);

  it('closes with 1009 when a client bypasses the size limit', () => {
    expect(results.oversizeClose).toBe(1009);
  });
});
