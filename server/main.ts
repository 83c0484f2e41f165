/**
 * `npm start`: the demo server with every rung this machine can offer. PORT (default 8080) and HOST
 * (default 127.0.0.1) choose where it listens; SIGINT/SIGTERM shut down gracefully (clients get 1001).
 */

import { createDemo } from './demo/app.ts';
import { buildDemoBundle } from './demo/bundle.ts';
import { startNodeServer } from './node.ts';

const port = Number(process.env.PORT ?? 8080);
const hostname = process.env.HOST ?? '127.0.0.1';
const heartbeatMs = Number(process.env.HEARTBEAT_MS ?? 15_000);

const demo = createDemo({ bundle: await buildDemoBundle(), heartbeatMs });
const server = await startNodeServer({
  port,
  hostname,
  heartbeatMs,
  onConnection: demo.protocol.onConnection,
  configure: (app) => demo.configure(app),
});

const offered = (await (await fetch(`${server.url}/rt/negotiate`)).json()) as {
  transports: { kind: string }[];
};
console.log(`switchyard demo on ${server.url} (runtime: node)`);
console.log(`rungs offered: ${offered.transports.map((t) => t.kind).join(', ')}`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: closing connections with 1001 and stopping`);
    await server.close();
    await demo.stop();
    process.exit(0);
  });
}
