/**
 * The client conformance suite from Deno against the Deno binding (the `npm start` server): WebTransport over
 * native HTTP/3 with topic lanes and datagrams, WebSocket and SSE, each through `createClient`.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DENO_RUN, type DenoServer, denoBinary, launchDenoServer } from '../../server/deno/launch.ts';
import type { SuiteResults } from './client-suite.ts';
import { scenarios } from './client-suite.ts';

const run = promisify(execFile);

describe.skipIf(!denoBinary())('client conformance (deno, every rung of the Deno binding)', () => {
  let server: DenoServer;
  let results: Record<string, SuiteResults>;

  beforeAll(async () => {
    server = await launchDenoServer({ port: 0 });
    const { stdout } = await run(
      denoBinary()!,
      [...DENO_RUN, 'test/conformance/client-deno.deno.ts', server.url],
      { cwd: fileURLToPath(new URL('../..', import.meta.url)), timeout: 120_000 },
    );
    results = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, SuiteResults>;
  }, 150_000);

  afterAll(async () => {
    await server?.close();
  });

  for (const kind of ['webtransport', 'websocket', 'sse']) {
    for (const name of Object.keys(scenarios)) {
      it(`${kind}: ${name}`, () => {
        expect(results[kind]?.[name]).toBe('ok');
      });
    }
  }
});
