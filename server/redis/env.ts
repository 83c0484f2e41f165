/**
 * What `npm start` (Node) and the Deno binding read from the environment to run as one node of several:
 * REDIS_URL switches the hub and session store to Redis (absent: the embedded in-memory ones, nothing else
 * needed), one URL or a Redis Cluster's seeds comma-separated (cluster mode is detected; a bad list fails at
 * start with a RedisConfigError naming the seeds); REDIS_PREFIX namespaces the keys (default `switchyard`); TOKEN_SECRET (64 hex characters) lets every
 * node verify the tokens any node issued. Runtime-neutral: the caller passes its own env lookup.
 */
import type { RedisEngine } from './index.ts';
import { createRedisEngine } from './index.ts';

export type EnvLookup = (name: string) => string | undefined;

/** The Redis engine when REDIS_URL is set, else undefined. Throws when Redis cannot be reached at start. */
export async function redisEngineFromEnv(
  env: EnvLookup,
  log: (line: string) => void,
): Promise<RedisEngine | undefined> {
  const url = env('REDIS_URL');
  if (!url) return undefined;
  const engine = await createRedisEngine({ url, prefix: env('REDIS_PREFIX') ?? 'switchyard', log });
  const where = url.replace(/\/\/[^@/,]*@/g, '//***@');
  const { mode, shards } = engine.link.health();
  const cluster = mode === 'cluster' ? `Redis Cluster, ${shards.length} masters, sharded pub/sub: ` : '';
  log(`redis: hub and sessions on ${cluster}${where} (node ${engine.link.nodeId})`);
  return engine;
}

/** A token signing key shared by all nodes (TOKEN_SECRET, hex), or undefined for a per-process random one. */
export function tokenSecretFromEnv(env: EnvLookup): Uint8Array | undefined {
  const hex = env('TOKEN_SECRET');
  if (!hex) return undefined;
  if (!/^([0-9a-f]{2}){32,}$/i.test(hex)) throw new Error('TOKEN_SECRET must be at least 64 hex characters');
  return Uint8Array.from(hex.match(/../g) ?? [], (byte) => Number.parseInt(byte, 16));
}
