/**
 * What REDIS_URL points at, decided once at start: one Redis, or a Redis Cluster (one or more seeds that are
 * cluster members). Misconfiguration is refused here, with every seed named, rather than surfacing later as a
 * MOVED error or a half-served topic space: a seed that cannot be reached, a list mixing cluster and
 * non-cluster servers, several independent servers (switchyard does not shard by itself: that is Redis
 * Cluster's job), a cluster whose slots are not all served.
 */
import { Redis } from 'ioredis';
import { SLOTS } from './slot.ts';

export interface Seed {
  readonly host: string;
  readonly port: number;
  /** The URL as given (credentials kept, for connecting). */
  readonly url: string;
  /** host:port, for messages and logs (no credentials). */
  readonly name: string;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: boolean;
  readonly db: number;
}

export type Topology =
  | { readonly mode: 'single'; readonly seed: Seed }
  | { readonly mode: 'cluster'; readonly seeds: readonly Seed[] };

/** Error of a REDIS_URL that cannot work; its message names what is wrong and with which seed. */
export class RedisConfigError extends Error {
  override readonly name = 'RedisConfigError';
}

/** Splits `redis://a:6379,redis://b:6379` (a bare `host:port` after the first counts as another seed). */
export function parseRedisUrls(value: string): Seed[] {
  const parts = value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (parts.length === 0) throw new RedisConfigError('REDIS_URL is empty');
  return parts.map((part) => {
    const text = /^[a-z]+:\/\//i.test(part) ? part : `redis://${part}`;
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new RedisConfigError(`REDIS_URL: "${part}" is not a redis:// URL`);
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      throw new RedisConfigError(`REDIS_URL: "${url.protocol}" is not redis: or rediss: (in "${part}")`);
    }
    const port = url.port === '' ? 6379 : Number(url.port);
    const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
    if (!Number.isInteger(db) || db < 0) throw new RedisConfigError(`REDIS_URL: bad database in "${part}"`);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    return {
      host,
      port,
      url: text,
      name: `${host}:${port}`,
      username: url.username === '' ? undefined : decodeURIComponent(url.username),
      password: url.password === '' ? undefined : decodeURIComponent(url.password),
      tls: url.protocol === 'rediss:',
      db,
    };
  });
}

interface Probe {
  readonly seed: Seed;
  readonly error?: string;
  readonly cluster?: boolean;
  readonly state?: string;
  readonly assigned?: number;
}

async function probe(seed: Seed, timeoutMs: number): Promise<Probe> {
  const redis = new Redis(seed.url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let cause: string | undefined; // the socket's own error (ECONNREFUSED ...), not ioredis' "Connection is closed"
  redis.on('error', (error: Error) => {
    cause ??= error.message;
  });
  try {
    await redis.connect();
    const info = await redis.info('cluster');
    if (!/cluster_enabled:1/.test(info)) return { seed, cluster: false };
    const text = String(await redis.cluster('INFO'));
    const state = /cluster_state:(\w+)/.exec(text)?.[1] ?? 'unknown';
    const assigned = Number(/cluster_slots_ok:(\d+)/.exec(text)?.[1] ?? 0);
    return { seed, cluster: true, state, assigned };
  } catch (error) {
    return { seed, error: cause ?? (error instanceof Error ? error.message : String(error)) };
  } finally {
    redis.disconnect();
  }
}

/** Reaches every seed and tells single from cluster; throws RedisConfigError for anything that cannot work. */
export async function discoverTopology(seeds: readonly Seed[], timeoutMs = 2000): Promise<Topology> {
  const probes = await Promise.all(seeds.map((seed) => probe(seed, timeoutMs)));
  const unreachable = probes.filter((p) => p.error !== undefined);
  if (unreachable.length > 0) {
    const list = unreachable.map((p) => `${p.seed.name} (${p.error})`).join(', ');
    throw new RedisConfigError(
      `REDIS_URL: cannot reach ${unreachable.length} of ${seeds.length} seed(s): ${list}`,
    );
  }
  const members = probes.filter((p) => p.cluster);
  const plain = probes.filter((p) => !p.cluster);
  if (members.length > 0 && plain.length > 0) {
    throw new RedisConfigError(
      `REDIS_URL mixes Redis Cluster members (${members.map((p) => p.seed.name).join(', ')}) with servers that ` +
        `are not in cluster mode (${plain.map((p) => p.seed.name).join(', ')}); list the members of one cluster, or one Redis`,
    );
  }
  const [first] = seeds;
  if (!first) throw new RedisConfigError('REDIS_URL is empty');
  if (members.length === 0) {
    if (seeds.length > 1) {
      throw new RedisConfigError(
        `REDIS_URL lists ${seeds.length} Redis servers that are not a Redis Cluster ` +
          `(${seeds.map((s) => s.name).join(', ')}); switchyard shards only over Redis Cluster: give one Redis, or the cluster's seeds`,
      );
    }
    return { mode: 'single', seed: first };
  }
  const partial = members.find((p) => (p.assigned ?? 0) < SLOTS);
  if (partial) {
    throw new RedisConfigError(
      `Redis Cluster at ${partial.seed.name}: ${SLOTS - (partial.assigned ?? 0)} of ${SLOTS} slots are not served ` +
        `(cluster_state:${partial.state}); assign them (redis-cli --cluster fix) before starting`,
    );
  }
  const failing = members.find((p) => p.state !== 'ok');
  if (failing) {
    throw new RedisConfigError(
      `Redis Cluster at ${failing.seed.name} reports cluster_state:${failing.state}`,
    );
  }
  if (seeds.some((s) => s.db !== 0)) {
    throw new RedisConfigError(
      'REDIS_URL: a Redis Cluster has only database 0; drop the /<db> from the seeds',
    );
  }
  return { mode: 'cluster', seeds };
}
