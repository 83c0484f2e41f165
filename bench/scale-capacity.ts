/**
 * Server memory per idle connection, per rung, with the whole stack a production node runs: the rung, the
 * protocol connection, its session (in Redis: nothing in the node but a handle), one subscription on the
 * Redis hub and its presence on that topic (RedisPresence). The node runs in this process; N clients in a child process connect, subscribe and idle; the RSS
 * growth after garbage collection, divided by N, is the figure docs/notification-system.md multiplies out.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { startNodeServer } from '../server/node.ts';
import { createProtocol } from '../server/protocol/index.ts';
import { createRedisEngine } from '../server/redis/index.ts';
import type { TransportKind } from '../src/transport.ts';

export interface CapacityResult {
  readonly rung: TransportKind;
  readonly connections: number;
  readonly rssPerConnection: number;
  readonly heapPerConnection: number;
  /** Server CPU per client heartbeat (ping in, pong out), microseconds. */
  readonly cpuUsPerHeartbeat: number;
}

const HEARTBEAT_MS = 2000;

async function settleMemory(): Promise<{ rss: number; heap: number }> {
  for (let i = 0; i < 3; i++) {
    global.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

export async function runCapacity(options: {
  redisUrl: string;
  prefix: string;
  rungs: readonly TransportKind[];
  connections: number;
}): Promise<CapacityResult[]> {
  const engine = await createRedisEngine({
    url: options.redisUrl,
    prefix: options.prefix,
    log: () => undefined,
  });
  // A short heartbeat so that its cost can be measured; memory does not depend on it.
  const protocol = createProtocol({
    hub: engine.hub,
    sessionStore: engine.sessions,
    presence: engine.presence,
    heartbeatMs: HEARTBEAT_MS,
  });
  const server = await startNodeServer({
    heartbeatMs: HEARTBEAT_MS,
    onConnection: protocol.onConnection,
    sseForwarder: engine.forwarder,
  });
  const results: CapacityResult[] = [];
  try {
    for (const rung of options.rungs) {
      const before = await settleMemory();
      const child: ChildProcess = fork(
        new URL('./scale-idle-clients.ts', import.meta.url).pathname,
        [server.url, rung, String(options.connections)],
        { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
      );
      await new Promise((resolve) => child.once('message', resolve));
      const after = await settleMemory();
      const cpu0 = process.cpuUsage();
      const window = 4 * HEARTBEAT_MS;
      await new Promise((resolve) => setTimeout(resolve, window));
      const cpu = process.cpuUsage(cpu0);
      const heartbeats = (options.connections * window) / HEARTBEAT_MS;
      results.push({
        rung,
        connections: options.connections,
        rssPerConnection: (after.rss - before.rss) / options.connections,
        heapPerConnection: (after.heap - before.heap) / options.connections,
        cpuUsPerHeartbeat: (cpu.user + cpu.system) / heartbeats,
      });
      child.send({ exit: true });
      await new Promise((resolve) => child.once('exit', resolve));
      // Let the server notice and free the connections before the next rung.
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
  } finally {
    await server.close();
    protocol.close();
    await engine.close();
  }
  return results;
}
