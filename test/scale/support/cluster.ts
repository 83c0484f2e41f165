/**
 * A cluster for one test: N node processes (./node-child.ts) sharing one Redis under a key prefix of this test
 * only, deleted afterwards; plus helpers to read a node's stats and to move its clock.
 */
import { type ServerChild, spawnServer } from '../../resilience/support/child.ts';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from './redis.ts';

const NODE_SCRIPT = new URL('./node-child.ts', import.meta.url).pathname;

export interface NodeStats {
  readonly ok: boolean;
  readonly active: number;
  readonly applied: number;
  readonly duplicates: number;
  readonly redis: { readonly state: string; readonly outages: number; readonly epochChanges: number };
  readonly forwarding: { readonly forwarded: number; readonly served: number; readonly ownerGone: number };
  readonly hub: { readonly catchUps: number; readonly resets: number };
  /** Tokens recorded as spent, replays refused (nodes started with TOKEN_SECRET). */
  readonly replay: { readonly spent: number; readonly replays: number; readonly unavailable: number };
}

export interface Cluster {
  readonly prefix: string;
  readonly redisUrl: string;
  readonly nodes: ServerChild[];
  /** Starts one more node (or restarts on a given port). */
  add(extraEnv?: Record<string, string>): Promise<ServerChild>;
  stats(node: ServerChild): Promise<NodeStats>;
  setClock(offsetMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startCluster(
  count: number,
  options: { redisUrl?: string; env?: Record<string, string> } = {},
): Promise<Cluster> {
  const redisUrl = options.redisUrl ?? SHARED_REDIS_URL;
  const prefix = uniquePrefix('cluster');
  const env = { REDIS_URL: redisUrl, REDIS_PREFIX: prefix, HEARTBEAT_MS: '2000', ...options.env };
  const nodes: ServerChild[] = [];
  const cluster: Cluster = {
    prefix,
    redisUrl,
    nodes,
    async add(extraEnv = {}) {
      const node = await spawnServer({ ...env, ...extraEnv }, NODE_SCRIPT);
      nodes.push(node);
      return node;
    },
    async stats(node) {
      return (await (await fetch(`${node.url}/__test/stats`)).json()) as NodeStats;
    },
    async setClock(offsetMs) {
      await Promise.all(
        nodes
          .filter((n) => n.process.exitCode === null && n.process.signalCode === null)
          .map((n) => fetch(`${n.url}/__test/clock?offsetMs=${offsetMs}`, { method: 'POST' })),
      );
    },
    async close() {
      await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
      await deletePrefix(redisUrl, prefix).catch(() => undefined);
    },
  };
  await Promise.all(Array.from({ length: count }, () => cluster.add()));
  return cluster;
}
