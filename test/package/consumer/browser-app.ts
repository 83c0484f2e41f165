// The browser half, bundled by esbuild from the installed package (platform: browser): connects with the
// default ladder and with each rung pinned, one exchange each, and reports to the test through window.
import { createClient } from 'switchyard/client';
import { probe } from 'switchyard/playwright/probe';
import { browserTransports } from 'switchyard/transports/browser';

type Result = { rung: string | null; echoed: unknown };

async function exchange(order?: ('webtransport' | 'websocket' | 'sse')[]): Promise<Result> {
  const client = createClient({
    url: location.origin,
    transports: browserTransports,
    rememberRung: false,
    climb: false,
    backoff: { maxAttempts: 3 }, // fail (and say why) instead of retrying for ever
    ...(order ? { order } : {}),
  });
  probe(client, order?.join('+') ?? 'ladder');
  const topic = `room.${order?.join('+') ?? 'ladder'}`;
  client.subscribe(topic);
  const echoed = new Promise<unknown>((resolve) => client.on('message', (m) => resolve(m.data)));
  await client.connect();
  await client.publish(topic, { from: 'browser' });
  const result = { rung: client.rung, echoed: await echoed };
  client.close();
  return result;
}

const w = window as unknown as { results?: Record<string, Result | string> };
(async () => {
  const results: Record<string, Result | string> = {};
  for (const order of [undefined, ['webtransport'], ['websocket'], ['sse']] as const) {
    const name = order?.join('+') ?? 'ladder';
    try {
      results[name] = await exchange(order ? [...order] : undefined);
    } catch (error) {
      results[name] = `failed: ${(error as Error).message}`;
    }
  }
  w.results = results;
})();
