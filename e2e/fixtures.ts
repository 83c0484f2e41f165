/**
 * Shared Playwright fixtures: a demo server on port 0 per worker (the real app: protocol, hub, every rung
 * the Node binding offers), and a helper to start one with custom options inside a test.
 */
import { test as base } from '@playwright/test';
import { createDemo, type Demo } from '../server/demo/app.ts';
import { buildDemoBundle } from '../server/demo/bundle.ts';
import { type NodeServerOptions, type RunningServer, startNodeServer } from '../server/node.ts';

export interface DemoServer {
  readonly url: string;
  readonly server: RunningServer;
  readonly demo: Demo;
  close(): Promise<void>;
}

let bundle: Promise<string> | undefined;

/** Starts the demo app on port 0; `options` override the server's (limits, admission, heartbeat...). */
export async function startDemoServer(
  options: Partial<Omit<NodeServerOptions, 'onConnection'>> & { tickerMs?: number } = {},
): Promise<DemoServer> {
  bundle ??= buildDemoBundle();
  const heartbeatMs = options.heartbeatMs ?? 5000;
  const demo = createDemo({ bundle: await bundle, heartbeatMs, tickerMs: options.tickerMs ?? 250 });
  const server = await startNodeServer({
    ...options,
    heartbeatMs,
    onConnection: demo.protocol.onConnection,
    configure: (app) => {
      demo.configure(app);
      options.configure?.(app);
    },
  });
  return {
    url: server.url,
    server,
    demo,
    async close() {
      await server.close();
      await demo.stop();
    },
  };
}

export const test = base.extend<object, { demoServer: DemoServer }>({
  demoServer: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright requires the destructuring pattern.
    async ({}, use) => {
      const started = await startDemoServer();
      await use(started);
      await started.close();
    },
    { scope: 'worker' },
  ],
});

export { expect } from '@playwright/test';
