/**
 * The demo with `API_KEY` in real browsers: the page's metrics link opens the Prometheus text after the
 * browser's password prompt (the key as the password), and the text counts the page's own connections by rung.
 * A backend's publish through the API reaches the page like any message.
 */
import { createDemo } from '../server/demo/app.ts';
import { buildDemoBundle } from '../server/demo/bundle.ts';
import { createMetrics } from '../server/metrics/index.ts';
import { startNodeServer } from '../server/node.ts';
import { expect, test } from './fixtures.ts';

const API_KEY = 'e2e-api-key-0123456789abcdef';

test('the metrics link works behind the key and counts the page connections by rung', async ({ browser }) => {
  const demo = createDemo({
    bundle: await buildDemoBundle(),
    tickerMs: 250,
    apiKey: API_KEY,
    metrics: createMetrics(),
  });
  const server = await startNodeServer({
    onConnection: demo.protocol.onConnection,
    configure: (app) => demo.configure(app),
  });
  try {
    const context = await browser.newContext({ httpCredentials: { username: 'ops', password: API_KEY } });
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await expect(page.locator('body')).toHaveAttribute('data-ready', 'true');
    await expect(page.locator('.rung[data-kind="websocket"]')).toHaveAttribute('data-state', 'connected');
    await expect(page.locator('.rung[data-kind="sse"]')).toHaveAttribute('data-state', 'connected');

    const published = await fetch(`${server.url}/rt/api/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({ topic: 'ticker', data: { tick: -1, at: Date.now() } }),
    });
    expect(published.status).toBe(200);

    // Opened beside the demo (following it in the same tab would close the page's connections first).
    const href = await page.getByRole('link', { name: 'Server metrics' }).getAttribute('href');
    const metrics = await context.newPage();
    await metrics.goto(new URL(href ?? '', server.url).href);
    const text = (await metrics.locator('body').textContent()) ?? '';
    expect(text).toMatch(/^switchyard_connections_open\{rung="websocket"\} [1-9]/m);
    expect(text).toMatch(/^switchyard_connections_open\{rung="sse"\} [1-9]/m);
    expect(text).toMatch(/^switchyard_connection_attempts_total\{rung="websocket",result="ok"\} [1-9]/m);
    expect(text).toMatch(/^switchyard_messages_sent_total\{rung="sse"\} [1-9]/m);

    // Without the password: the challenge (a headless browser cannot prompt), not the metrics.
    const anonymous = await browser.newContext();
    const denied = await anonymous.request.get(`${server.url}/rt/metrics`);
    expect(denied.status()).toBe(401);
    expect(denied.headers()['www-authenticate']).toMatch(/^Basic/);
    await anonymous.close();
    await context.close();
  } finally {
    await server.close();
    await demo.stop();
  }
});
