/**
 * How the link's ioredis clients are configured, one Redis or a Cluster alike: fail fast instead of queueing
 * (a refused request is retried by the switchyard client, a queued one may be lost), reconnect by itself with a
 * capped backoff, and on a Cluster follow MOVED/ASK/TRYAGAIN (a reshard) but never hold a command for a shard
 * that is gone: the link refuses that shard's work with 1013 until it is back.
 */
import { Cluster, type RedisOptions } from 'ioredis';
import type { Seed } from './seeds.ts';

const backoff = (attempt: number) => Math.min(50 * 2 ** attempt, 1000);

export function clientOptions(
  name: string,
  seed: Seed | undefined,
  commandTimeoutMs: number,
): RedisOptions & { lazyConnect: true } {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 2000,
    retryStrategy: backoff,
    connectionName: name,
    ...(seed?.username === undefined ? {} : { username: seed.username }),
    ...(seed?.password === undefined ? {} : { password: seed.password }),
    ...(seed?.tls ? { tls: {} } : {}),
  };
}

/** The Cluster command client over `seeds`; `node` configures its connection to each master. */
export function clusterClient(seeds: readonly Seed[], node: RedisOptions): Cluster {
  const { lazyConnect: _lazy, ...redisOptions } = node;
  return new Cluster(
    seeds.map((s) => ({ host: s.host, port: s.port })),
    {
      lazyConnect: true,
      enableOfflineQueue: false,
      scaleReads: 'master',
      maxRedirections: 16,
      retryDelayOnFailover: 0,
      retryDelayOnClusterDown: 0,
      retryDelayOnTryAgain: 50,
      slotsRefreshTimeout: 2000,
      slotsRefreshInterval: 5000,
      clusterRetryStrategy: backoff,
      // A master restarted on its address is reconnected, not only found again through a MOVED.
      clusterNodeRetryStrategy: backoff,
      redisOptions,
    },
  );
}
