/**
 * Redis for the scale-out tests: the machine's shared Redis (127.0.0.1:6379, also used by other test runs at
 * the same time) with a key prefix per test that is deleted afterwards, and private redis-server processes on
 * free ports for the tests that stop, pause or restart Redis. Both fail with a clear message when Redis is
 * missing (CI runs one; `apt-get install redis-server` elsewhere).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, beforeAll } from 'vitest';
import { freePort } from '../../../e2e/kit/nginx.ts';

export const SHARED_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const REDIS_SERVER_BIN = process.env.REDIS_SERVER_PATH ?? 'redis-server';

/** A prefix no other run uses: branch-free, pid and random. */
export function uniquePrefix(name: string): string {
  return `sytest-${name}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under `prefix` (SCAN, never KEYS: other users share this Redis). */
export async function deletePrefix(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  await redis.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** Fails the test with a clear message when the shared Redis is not there. */
export async function requireRedis(url = SHARED_REDIS_URL): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(
      `these tests need Redis at ${url} (CI runs one; start redis-server locally): ${(error as Error).message}`,
    );
  } finally {
    redis.disconnect();
  }
}

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  /** SIGKILL: Redis disappears without a goodbye (and, with no persistence, with all its data). */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: nothing is kept on disk). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A redis-server of this test's own on a free port, keeping nothing on disk, like the shared one. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'sy-redis-'));
  const port = await freePort('127.0.0.1');
  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn(
      REDIS_SERVER_BIN,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    );
    child.on('error', () => undefined);
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await requireRedis(`redis://127.0.0.1:${port}`);
        return;
      } catch (error) {
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`private redis-server on ${port} did not start (${REDIS_SERVER_BIN}): ${error}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGKILL');
    await exited;
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: launch,
    async stop() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The hooks every scale test file needs: Redis must be there (a clear failure otherwise), and whatever a test
 * started is stopped after it, last started first. Returns the function that registers a cleanup.
 */
export function scaleTestHooks(): (cleanup: () => unknown) => void {
  const cleanups: (() => unknown)[] = [];
  beforeAll(() => requireRedis());
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return (cleanup) => {
    cleanups.push(cleanup);
  };
}
