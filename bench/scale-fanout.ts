/**
 * Fan-out cost on one node: one publish through the Redis hub to N WebSocket subscribers (the protocol encodes
 * the message once and writes the same bytes to every connection), against a raw `ws` loop that sends one
 * pre-encoded buffer to the same N sockets. The node runs in this process, the subscribers in a child process
 * (./scale-clients.ts), so the CPU time measured here (user + system, the kernel's socket writes included) is
 * the node's alone. Rounds alternate between the two so drift on the shared machine hits both alike.
 */
import { type ChildProcess, fork } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { WebSocketServer } from 'ws';
import { createSwitchyardApp } from '../server/app.ts';
import { MemoryHub } from '../server/hub/memory.ts';
import { nodeBinding } from '../server/node.ts';
import { createProtocol } from '../server/protocol/index.ts';
import { createRedisEngine } from '../server/redis/index.ts';
import { WEBSOCKET_PROTOCOL } from '../transports/websocket/client.ts';

export interface FanoutResult {
  readonly hub: 'redis' | 'memory';
  readonly subscribers: number;
  readonly rounds: number;
  /** Node CPU per delivery, microseconds (median over rounds). */
  readonly oursCpuUsPerDelivery: number;
  readonly rawCpuUsPerDelivery: number;
  /** Wall time from publish to the last subscriber's receipt, ms (median). */
  readonly oursWallMs: number;
  readonly rawWallMs: number;
  /** Node RSS growth per subscribed connection, bytes (ws + protocol + session + subscription). */
  readonly rssPerConnection: number;
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

export async function runFanout(options: {
  redisUrl: string;
  prefix: string;
  subscribers: number;
  rounds: number;
  /** `memory`: the embedded hub, to tell the Redis hub's share of the cost from the protocol's. */
  hub: 'redis' | 'memory';
  /** The session store (default: Redis with the Redis hub); sessions cost at connect, not per delivery. */
  sessions?: 'redis' | 'memory';
}): Promise<FanoutResult> {
  const engine = await createRedisEngine({
    url: options.redisUrl,
    prefix: options.prefix,
    log: () => undefined,
  });
  const hub = options.hub === 'redis' ? engine.hub : new MemoryHub();
  const protocol = createProtocol({
    hub,
    ...(options.hub === 'redis' && options.sessions !== 'memory' ? { sessionStore: engine.sessions } : {}),
    heartbeatMs: 600_000,
    outgoing: { maxMessages: 100_000 },
  });
  const switchyard = createSwitchyardApp({
    binding: nodeBinding(() => 0),
    onConnection: protocol.onConnection,
    heartbeatMs: 600_000,
  });
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has(WEBSOCKET_PROTOCOL) ? WEBSOCKET_PROTOCOL : false),
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve(
      { fetch: switchyard.app.fetch, port: 0, hostname: '127.0.0.1', websocket: { server: wss } },
      () => resolve(s),
    );
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const child: ChildProcess = fork(
    new URL('./scale-clients.ts', import.meta.url).pathname,
    [url, 'fan', String(options.subscribers)],
    {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const messages: { ready?: number; round?: number }[] = [];
  let wake: (() => void) | undefined;
  child.on('message', (m: { ready?: number; round?: number }) => {
    messages.push(m);
    wake?.();
  });
  const next = async (): Promise<{ ready?: number; round?: number }> => {
    while (messages.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    return messages.shift() as { ready?: number; round?: number };
  };
  await next();
  global.gc?.();
  const rssPerConnection = (process.memoryUsage().rss - rssBefore) / options.subscribers;

  const data = { kind: 'notification', body: 'x'.repeat(64) };
  const ours: { cpu: number; wall: number }[] = [];
  const raw: { cpu: number; wall: number }[] = [];
  for (let round = 0; round < options.rounds * 2; round++) {
    const mine = round % 2 === 0;
    const cpu0 = cpuMicros();
    const t0 = performance.now();
    if (mine) {
      await hub.publish('fan', data);
    } else {
      // The same bytes the protocol writes for a `msg`, encoded once into one buffer, sent by the plainest loop.
      const frame = Buffer.from(`:${JSON.stringify({ type: 'msg', topic: 'fan', seq: round, data })}`);
      for (const socket of wss.clients) socket.send(frame, { binary: false });
    }
    await next();
    const sample = { cpu: cpuMicros() - cpu0, wall: performance.now() - t0 };
    (mine ? ours : raw).push(sample);
  }
  child.send({ exit: true });
  await new Promise((resolve) => child.once('exit', resolve));
  for (const socket of wss.clients) socket.terminate();
  protocol.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await engine.close();
  const n = options.subscribers;
  return {
    hub: options.hub,
    subscribers: n,
    rounds: options.rounds,
    oursCpuUsPerDelivery: median(ours.map((s) => s.cpu)) / n,
    rawCpuUsPerDelivery: median(raw.map((s) => s.cpu)) / n,
    oursWallMs: median(ours.map((s) => s.wall)),
    rawWallMs: median(raw.map((s) => s.wall)),
    rssPerConnection,
  };
}
