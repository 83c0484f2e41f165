/**
 * `npm run bench:scale`: the scale-out benchmarks of docs/scale-out.md and docs/notification-system.md, in one
 * run, on a private redis-server (started here on a free port, nothing on disk) so that no other user's
 * commands are counted or in the way. Reports ratios measured in the same run:
 * 1. fan-out of one publish to N WebSocket subscribers on one node (Redis hub, and the embedded hub to tell
 *    the hub's share) vs a raw `ws` loop sending one pre-encoded buffer to the same sockets (target <= 1.2x);
 * 2. Redis round trips per hub publish (target: one) and per client `pub`, counted with MONITOR;
 * 3. messages per second: 1 node embedded hub, 1 node Redis hub, 2 nodes Redis hub;
 * 4. server memory per idle connection on the WebSocket and SSE rungs (protocol, session, one subscription);
 * 5. on a Redis Cluster of three masters (started here too): how 10,000 topics spread over the shards, Redis
 *    CPU per publish per shard against the single instance (target <= 1.2x), round trips per publish (target
 *    1.00), node CPU per delivery against the single instance (target <= 1.1x), and the capacity arithmetic.
 * 6. the cost of one present client: Node heap (memory and Redis stores), Redis memory, round trips per join.
 * Writes bench/results/scale-latest.json and .md. SUBSCRIBERS (default 10000) sets N; IDLE (default 2000) the
 * idle connections per rung.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { startPrivateRedis } from '../test/scale/support/redis.ts';
import { startRedisCluster } from '../test/scale/support/redis-cluster.ts';
import { runCapacity } from './scale-capacity.ts';
import { runClusterCost } from './scale-cluster.ts';
import { runFanout } from './scale-fanout.ts';
import { runPresenceCost } from './scale-presence.ts';
import { runRedisCost } from './scale-redis.ts';
import { runThroughput } from './scale-throughput.ts';

const subscribers = Number(process.env.SUBSCRIBERS ?? 10_000);
const redis = await startPrivateRedis();
const redisCluster = await startRedisCluster(3);
const f = (n: number, digits = 2) => n.toFixed(digits);
try {
  const fanoutRedis = await runFanout({
    redisUrl: redis.url,
    prefix: 'bench-fan',
    subscribers,
    rounds: 15,
    hub: 'redis',
  });
  const fanoutMemory = await runFanout({
    redisUrl: redis.url,
    prefix: 'bench-fan2',
    subscribers,
    rounds: 15,
    hub: 'memory',
  });
  const cost = await runRedisCost({ redisUrl: redis.url, prefix: 'bench-cost' });
  const throughput = await runThroughput({ redisUrl: redis.url });
  const capacity = await runCapacity({
    redisUrl: redis.url,
    prefix: 'bench-idle',
    rungs: ['websocket', 'sse'],
    connections: Number(process.env.IDLE ?? 2000),
  });
  const clusterCost = await runClusterCost({
    singleUrl: redis.url,
    clusterMasters: redisCluster.masters.map((m) => m.url),
  });
  // Node CPU per delivery, single Redis vs cluster, the same setup (embedded sessions: they cost at connect).
  const fanoutSingle = await runFanout({
    redisUrl: redis.url,
    prefix: 'bench-fan3',
    subscribers,
    rounds: 15,
    hub: 'redis',
    sessions: 'memory',
  });
  const fanoutCluster = await runFanout({
    redisUrl: redisCluster.url,
    prefix: 'bench-fan4',
    subscribers,
    rounds: 15,
    hub: 'redis',
    sessions: 'memory',
  });
  const presence = await runPresenceCost({ redisUrl: redis.url, prefix: 'bench-presence' });
  const base = throughput[0]?.delivered ?? 1;
  const shards = clusterCost.shards;
  const worstShard = shards.reduce((w, s) =>
    s.share * s.cpuUsPerPublish > w.share * w.cpuUsPerPublish ? s : w,
  );
  const singleRate = 1e6 / clusterCost.single.cpuUsPerPublish;
  // The busiest shard's thread saturates first: the cluster takes 1 / (its share x its CPU per publish).
  const clusterRate = 1e6 / (worstShard.share * worstShard.cpuUsPerPublish);
  const lines = [
    `# scale benchmarks (${new Date().toISOString()}, ${subscribers} subscribers)`,
    '',
    '| fan-out, one node | CPU µs per delivery | ratio to raw ws | wall ms to last receipt |',
    '|---|---|---|---|',
    ...[fanoutRedis, fanoutMemory].map(
      (r) =>
        `| ${r.hub} hub (raw ws loop: ${f(r.rawCpuUsPerDelivery)} µs, ${f(r.rawWallMs, 1)} ms) | ${f(r.oursCpuUsPerDelivery)} | ${f(r.oursCpuUsPerDelivery / r.rawCpuUsPerDelivery)}x | ${f(r.oursWallMs, 1)} |`,
    ),
    '',
    '| Redis per message | value |',
    '|---|---|',
    `| round trips per hub publish | ${f(cost.roundTripsPerPublish)} (${JSON.stringify(cost.publishCommands)}) |`,
    `| commands inside the publish script | ${JSON.stringify(cost.scriptCommandsPerPublish)} |`,
    `| commands per client pub (claim + publish sent together: 1 round trip before the ack; outcome after) | ${f(cost.roundTripsPerClientPub)} (${JSON.stringify(cost.clientPubCommands)}) |`,
    `| hub publishes per second, one process, 64 in flight | ${f(cost.publishesPerSecond, 0)} |`,
    `| Redis CPU per publish script (commandstats) | ${f(cost.redisUsPerPublish, 1)} µs |`,
    `| Redis memory per history entry (64 B data) | ${f(cost.bytesPerHistoryEntry, 0)} B |`,
    `| Redis memory per subscribed channel | ${f(cost.bytesPerChannel, 0)} B |`,
    `| Redis memory per remembered message id (session dedup window) | ${f(cost.bytesPerDedupId, 0)} B |`,
    '',
    '| throughput (4 publishers x 16 in flight, 8 subscribers, one topic) | published/s | delivered/s | delivered vs 1 node embedded |',
    '|---|---|---|---|',
    ...throughput.map(
      (t) => `| ${t.setup} | ${f(t.published, 0)} | ${f(t.delivered, 0)} | ${f(t.delivered / base)}x |`,
    ),
    '',
    '| idle connection (protocol + session + 1 subscription and its presence, Redis hub) | server RSS per connection | JS heap per connection | server CPU per heartbeat |',
    '|---|---|---|---|',
    ...capacity.map(
      (c) =>
        `| ${c.rung}, ${c.connections} connections | ${f(c.rssPerConnection / 1024, 1)} KB | ${f(c.heapPerConnection / 1024, 1)} KB | ${f(c.cpuUsPerHeartbeat, 1)} µs |`,
    ),
    '',
    `| Redis Cluster, ${shards.length} masters (this machine), vs the single instance, same run | value |`,
    '|---|---|',
    `| ${clusterCost.topics} topics' publishes per shard (target: none above 40 %) | ${shards.map((s) => `${f(s.share * 100, 1)} %`).join(' / ')} |`,
    `| Redis µs per publish script, commandstats: single / each shard | ${f(clusterCost.single.usPerPublish, 1)} / ${shards.map((s) => f(s.usPerPublish, 1)).join(', ')} (worst ${f(Math.max(...shards.map((s) => s.usPerPublish)) / clusterCost.single.usPerPublish)}x) |`,
    `| Redis process CPU µs per publish (INFO cpu): single / each shard (target <= 1.2x) | ${f(clusterCost.single.cpuUsPerPublish, 1)} / ${shards.map((s) => f(s.cpuUsPerPublish, 1)).join(', ')} (worst ${f(Math.max(...shards.map((s) => s.cpuUsPerPublish)) / clusterCost.single.cpuUsPerPublish)}x) |`,
    `| round trips per hub publish: single / cluster (target 1.00) | ${f(clusterCost.single.roundTripsPerPublish)} / ${f(clusterCost.roundTripsPerPublish)} |`,
    `| node CPU µs per delivery, ${subscribers} subscribers: single / cluster (target <= 1.1x) | ${f(fanoutSingle.oursCpuUsPerDelivery)} / ${f(fanoutCluster.oursCpuUsPerDelivery)} (${f(fanoutCluster.oursCpuUsPerDelivery / fanoutSingle.oursCpuUsPerDelivery)}x) |`,
    `| publishes/s one Redis thread takes, 1 / CPU per publish: single / cluster (busiest shard: 1 / (share x CPU)) | ${f(singleRate, 0)} / ${f(clusterRate, 0)} (${f(clusterRate / singleRate)}x with ${shards.length} shards; needs a core per shard, which 2 shared cores are not) |`,
    '',
    `| one present client (${presence.members} members over ${presence.topics} topics; member: 24-hex-digit id, user, small info) | value |`,
    '|---|---|',
    `| Node heap per member, memory store | ${f(presence.memoryHeapBytesPerMember, 0)} B |`,
    `| Node heap per member, Redis store (the node's own copy) | ${f(presence.redisNodeHeapBytesPerMember, 0)} B |`,
    `| Redis memory per member | ${f(presence.redisBytesPerMember, 0)} B |`,
    `| Redis round trips per join / per leave | ${f(presence.roundTripsPerJoin)} / ${f(presence.roundTripsPerLeave)} |`,
    `| joins per second, one process, 64 in flight | ${f(presence.joinsPerSecond, 0)} |`,
  ];
  const table = lines.join('\n');
  console.log(table);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/scale-latest.md', import.meta.url), `${table}\n`);
  writeFileSync(
    new URL('./results/scale-latest.json', import.meta.url),
    `${JSON.stringify({ subscribers, fanoutRedis, fanoutMemory, cost, throughput, capacity, clusterCost, fanoutSingle, fanoutCluster, presence }, null, 2)}\n`,
  );
} finally {
  await redis.stop();
  await redisCluster.stop();
}
process.exit(0);
