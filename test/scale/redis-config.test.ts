/**
 * REDIS_URL misconfiguration fails at start with a message that names the seed, not later as a MOVED error or a
 * half-served topic space: an unreachable seed, a cluster member listed with a non-cluster server, several
 * independent servers, a cluster-enabled server whose slots are not assigned. Plus the pieces it rests on:
 * the seed list parser and the key -> slot function (checked against the server's own CLUSTER KEYSLOT).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../e2e/kit/nginx.ts';
import { RedisLink } from '../../server/redis/connection.ts';
import { parseRedisUrls, RedisConfigError } from '../../server/redis/seeds.ts';
import { hashTag, keySlot } from '../../server/redis/slot.ts';
import { REDIS_SERVER_BIN, SHARED_REDIS_URL, scaleTestHooks, startPrivateRedis } from './support/redis.ts';

const defer = scaleTestHooks();

async function startError(url: string): Promise<Error> {
  const link = new RedisLink({ url, prefix: 'sytest-config', log: () => undefined });
  defer(() => link.close());
  const error = await link.start().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RedisConfigError);
  return error as Error;
}

/** A cluster-enabled redis-server that was never joined into a cluster: no slot is served. */
async function loneClusterNode(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sy-lone-'));
  const [port, bus] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
  const args = ['--port', port, '--bind', '127.0.0.1', '--dir', dir, '--cluster-enabled', 'yes'];
  const child = spawn(REDIS_SERVER_BIN, [...args.map(String), '--cluster-port', String(bus), '--save', ''], {
    stdio: 'ignore',
  });
  defer(async () => {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => undefined);
    const ok = await probe.connect().then(
      () => true,
      () => false,
    );
    probe.disconnect();
    if (ok) return url;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('cluster-enabled redis-server did not start');
}

describe('REDIS_URL at start', () => {
  it('parses comma-separated seeds, credentials and bare host:port', () => {
    const seeds = parseRedisUrls('redis://u:p%40ss@10.0.0.1:7000, 10.0.0.2:7001 ,rediss://h');
    expect(seeds.map((s) => [s.name, s.username, s.password, s.tls])).toEqual([
      ['10.0.0.1:7000', 'u', 'p@ss', false],
      ['10.0.0.2:7001', undefined, undefined, false],
      ['h:6379', undefined, undefined, true],
    ]);
    expect(() => parseRedisUrls(' , ')).toThrow(/empty/);
    expect(() => parseRedisUrls('http://x')).toThrow(/not redis/);
  });

  it('names every unreachable seed', async () => {
    const [p1, p2] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
    const error = await startError(`${SHARED_REDIS_URL},redis://127.0.0.1:${p1},redis://127.0.0.1:${p2}`);
    expect(error.message).toMatch(/cannot reach 2 of 3 seed/);
    expect(error.message).toContain(`127.0.0.1:${p1}`);
    expect(error.message).toContain(`127.0.0.1:${p2}`);
  });

  it('refuses a cluster member listed with a non-cluster server, and several plain servers', async () => {
    const lone = await loneClusterNode();
    const plain = await startPrivateRedis();
    defer(() => plain.stop());
    const mixed = await startError(`${lone},${plain.url}`);
    expect(mixed.message).toMatch(
      /mixes Redis Cluster members \(127\.0\.0\.1:\d+\) with servers that are not/,
    );
    expect(mixed.message).toContain(`127.0.0.1:${plain.port}`);
    const several = await startError(`${SHARED_REDIS_URL},${plain.url}`);
    expect(several.message).toMatch(/2 Redis servers that are not a Redis Cluster/);
  });

  it('refuses a cluster whose slots are not all served', async () => {
    const error = await startError(await loneClusterNode());
    expect(error.message).toMatch(/16384 of 16384 slots are not served/);
  });

  it('computes key slots as Redis does, hash tags included', async () => {
    const redis = new Redis(await loneClusterNode());
    defer(() => redis.disconnect());
    const keys = ['a', 'p:seq:{room}', 'p:hist:{room}', '{}x', 'x{}{y}', 'héllo', `p:{${hashTag('}odd')}}`];
    for (const key of keys) expect(keySlot(key), key).toBe(Number(await redis.cluster('KEYSLOT', key)));
    expect(keySlot('p:seq:{room}')).toBe(keySlot('p:chan:{room}:x'));
  });
});
