/**
 * The demo page in real browsers: one panel per rung the server offers, each round-tripping echoes and
 * receiving the server's ticker broadcast. What a reader of the docs sees when they run `npm start`.
 */
import { expect, test } from './fixtures.ts';

test('shows a panel per offered rung, each connected, echoing and receiving the ticker', async ({
  page,
  demoServer,
}) => {
  const offered = (await (await fetch(`${demoServer.url}/rt/negotiate`)).json()) as {
    transports: { kind: string }[];
  };
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${demoServer.url}/`);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true');
  const kinds = await page
    .locator('.rung')
    .evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.kind));
  expect(kinds.sort()).toEqual(offered.transports.map((t) => t.kind).sort());
  expect(kinds).toContain('websocket');
  expect(kinds).toContain('sse');
  for (const kind of kinds) {
    const panel = page.locator(`.rung[data-kind="${kind}"]`);
    await expect(panel).toHaveAttribute('data-state', 'connected');
    // The button sends one more echo on top of the page's own once-a-second echo.
    await panel.getByRole('button', { name: 'send echo' }).click();
    await expect.poll(async () => Number(await panel.getAttribute('data-echoes'))).toBeGreaterThanOrEqual(2);
    await expect.poll(async () => Number(await panel.getAttribute('data-ticks'))).toBeGreaterThanOrEqual(2);
    // A measured round trip, not a placeholder; it may read 0.00 where the browser clamps
    // performance.now() to whole milliseconds (Firefox), so only its presence and sign are checked.
    const rtt = await panel.getAttribute('data-rtt');
    expect(rtt).toMatch(/^\d+\.\d\d$/);
    await expect(panel.locator('.caps')).toHaveText(`rung in use: ${kind}`);
    // The unreliable cursor: updates sent and delivered, counted on the page.
    const cursor = panel.locator('.cursor');
    await expect
      .poll(async () => Number(await cursor.getAttribute('data-cursor-delivered')))
      .toBeGreaterThan(10);
    expect(Number(await cursor.getAttribute('data-cursor-sent'))).toBeGreaterThan(10);
    await expect(cursor.locator('.cursor-counts')).toContainText('cursor (unreliable): sent');
  }
  expect(errors).toEqual([]);
});

test('tells the page when the server shuts down (1001) on every rung', async ({ page }) => {
  const { startDemoServer } = await import('./fixtures.ts');
  const own = await startDemoServer();
  try {
    await page.goto(`${own.url}/`);
    const panels = page.locator('.rung');
    await expect(panels.first()).toHaveAttribute('data-state', 'connected');
    await expect(panels.last()).toHaveAttribute('data-state', 'connected');
    await own.server.close();
    for (const panel of await panels.all()) {
      await expect(panel).not.toHaveAttribute('data-state', 'connected');
      await expect(panel.locator('dd').last()).toContainText('1001 GoingAway');
    }
  } finally {
    await own.demo.stop();
  }
});

test('on the Deno binding the page shows all three rungs, WebTransport included, each working', async ({
  page,
}) => {
  const { buildDemoBundle } = await import('../server/demo/bundle.ts');
  const { launchDenoServer } = await import('../server/deno/launch.ts');
  const deno = await launchDenoServer({ port: 0, bundle: await buildDemoBundle(), heartbeatMs: 5000 });
  try {
    await page.goto(`${deno.url}/`);
    await expect(page.locator('body')).toHaveAttribute('data-ready', 'true');
    for (const kind of ['webtransport', 'websocket', 'sse']) {
      const panel = page.locator(`.rung[data-kind="${kind}"]`);
      await expect(panel).toHaveAttribute('data-state', 'connected');
      await expect
        .poll(async () => Number(await panel.getAttribute('data-echoes')))
        .toBeGreaterThanOrEqual(1);
      await expect.poll(async () => Number(await panel.getAttribute('data-ticks'))).toBeGreaterThanOrEqual(1);
      // The unreliable cursor works on every rung (datagrams on WebTransport).
      await expect
        .poll(async () => Number(await panel.locator('.cursor').getAttribute('data-cursor-delivered')))
        .toBeGreaterThan(10);
    }
  } finally {
    await deno.close();
  }
});
