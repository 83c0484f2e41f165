/**
 * Scale-out on the Deno binding (what `npm start` runs here, with native HTTP/3 WebTransport): two Deno nodes
 * with REDIS_URL on one Redis (their own key prefix, deleted afterwards) and one TOKEN_SECRET, clients under
 * Deno on WebTransport (both nodes), WebSocket and SSE. Every subscriber sees one ordered stream: sequence 1..N,
 * each publish once, each publisher's messages in its order.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DENO_RUN, denoBinary, launchDenoServer } from '../../server/deno/launch.ts';
import { deletePrefix, SHARED_REDIS_URL, scaleTestHooks, uniquePrefix } from './support/redis.ts';

const run = promisify(execFile);
const defer = scaleTestHooks();

describe('two Deno nodes on Redis', () => {
  it('WebTransport, WebSocket and SSE clients on both nodes see one ordered stream', {
    timeout: 120_000,
  }, async () => {
    const deno = denoBinary();
    if (!deno) throw new Error('this test needs the `deno` npm package (npm ci installs it)');
    const prefix = uniquePrefix('deno');
    defer(() => deletePrefix(SHARED_REDIS_URL, prefix));
    const env = {
      REDIS_URL: SHARED_REDIS_URL,
      REDIS_PREFIX: prefix,
      TOKEN_SECRET: randomBytes(32).toString('hex'),
      TICKER: '0',
    };
    const nodes = await Promise.all([launchDenoServer({ env }), launchDenoServer({ env })]);
    for (const node of nodes) defer(() => node.close());
    const { stdout } = await run(
      deno,
      [...DENO_RUN, 'test/scale/webtransport.deno.ts', nodes[0]!.url, nodes[1]!.url],
      { cwd: fileURLToPath(new URL('../..', import.meta.url)), timeout: 90_000 },
    );
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
      rungs: string[];
      got: Record<string, [number, string, number][]>;
    };
    expect(result.rungs).toEqual(['wt@A:webtransport', 'wt@B:webtransport', 'ws@B:websocket', 'sse@A:sse']);
    const streams = Object.values(result.got);
    const reference = streams[0]!;
    expect(reference.map(([seq]) => seq)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
    for (const stream of streams) expect(stream).toEqual(reference);
    for (const name of Object.keys(result.got)) {
      expect(reference.filter(([, from]) => from === name).map(([, , n]) => n)).toEqual(
        Array.from({ length: 20 }, (_, n) => n),
      );
    }
  });
});
