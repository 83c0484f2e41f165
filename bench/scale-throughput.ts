/**
 * Messages per second through real node processes: publishers keep a window of reliable publishes in flight
 * (each resolves at its ack), subscribers count deliveries. Three set-ups in one run: one node on the embedded
 * hub, one node on the Redis hub, two nodes on the Redis hub with publishers and subscribers spread over both.
 * Everything (nodes, Redis, these clients) shares this machine's cores, so the 2-node figure measures what the
 * Redis path costs, not how far more machines would scale (docs/notification-system.md does that arithmetic).
 */
import { type Client, createClient } from '../src/client/index.ts';
import { startCluster } from '../test/scale/support/cluster.ts';
import { nodeTransports } from '../transports/index.node.ts';

export interface ThroughputResult {
  readonly setup: string;
  readonly published: number;
  readonly delivered: number;
}

async function measure(
  urlsFor: (role: 'pub' | 'sub', index: number) => string,
  options: { publishers: number; subscribers: number; window: number; ms: number },
): Promise<{ published: number; delivered: number }> {
  const clients: Client[] = [];
  const make = (url: string) => {
    const c = createClient({ url, transports: nodeTransports, order: ['websocket'], rememberRung: false });
    clients.push(c);
    return c;
  };
  let delivered = 0;
  const subs = Array.from({ length: options.subscribers }, (_, i) => make(urlsFor('sub', i)));
  for (const s of subs) {
    s.on('message', () => delivered++);
    s.subscribe('load');
  }
  const pubs = Array.from({ length: options.publishers }, (_, i) => make(urlsFor('pub', i)));
  await Promise.all([...subs, ...pubs].map((c) => c.connect()));
  let published = 0;
  let running = true;
  const payload = { body: 'x'.repeat(64) };
  const loops = pubs.flatMap((p) =>
    Array.from({ length: options.window }, async () => {
      while (running) {
        await p.publish('load', payload);
        published++;
      }
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 500));
  const p0 = published;
  const d0 = delivered;
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, options.ms));
  const seconds = (performance.now() - t0) / 1000;
  const result = { published: (published - p0) / seconds, delivered: (delivered - d0) / seconds };
  running = false;
  await Promise.race([Promise.all(loops), new Promise((resolve) => setTimeout(resolve, 2000))]);
  for (const c of clients) c.dispose();
  return result;
}

export async function runThroughput(options: {
  redisUrl: string;
  publishers?: number;
  subscribers?: number;
  window?: number;
  ms?: number;
  rounds?: number;
}): Promise<ThroughputResult[]> {
  const load = {
    publishers: options.publishers ?? 4,
    subscribers: options.subscribers ?? 8,
    window: options.window ?? 16,
    ms: options.ms ?? 2000,
  };
  const setups: { setup: string; nodes: number; env: Record<string, string> }[] = [
    { setup: '1 node, embedded hub', nodes: 1, env: { HUB: 'memory' } },
    { setup: '1 node, Redis hub', nodes: 1, env: {} },
    { setup: '2 nodes, Redis hub', nodes: 2, env: {} },
  ];
  // All set-ups stay up (idle ones cost nothing) and are measured in turn, round after round, so that load
  // from elsewhere on the machine hits each alike; the median round counts.
  const clusters = await Promise.all(
    setups.map((s) =>
      startCluster(s.nodes, { redisUrl: options.redisUrl, env: { HEARTBEAT_MS: '15000', ...s.env } }),
    ),
  );
  const samples = setups.map(() => [] as { published: number; delivered: number }[]);
  try {
    for (let round = 0; round < (options.rounds ?? 3); round++) {
      for (const [i, cluster] of clusters.entries()) {
        const urls = cluster.nodes.map((n) => n.url);
        samples[i]?.push(await measure((_role, k) => urls[k % urls.length] as string, load));
      }
    }
  } finally {
    await Promise.all(clusters.map((c) => c.close()));
  }
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
  return setups.map((s, i) => ({
    setup: s.setup,
    published: median((samples[i] ?? []).map((x) => x.published)),
    delivered: median((samples[i] ?? []).map((x) => x.delivered)),
  }));
}
