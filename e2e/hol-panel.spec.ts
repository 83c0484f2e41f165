/**
 * The demo page's head-of-line panel in real browsers against the `npm start` server (Deno binding, every
 * rung): the lab's charts load, the scenario list follows what the server offers, and the live experiment
 * runs the shared workload through the production client on each rung (samples arrive per channel, on the
 * rung asked for, nothing lost over reliable rungs). Contrasts under loss belong to the lab
 * (test/lab/hol-lab.test.ts); on loopback nothing about times is asserted.
 */
import { buildDemoBundle } from '../server/demo/bundle.ts';
import { type DenoServer, launchDenoServer } from '../server/deno/launch.ts';
import { expect, test } from './fixtures.ts';

let server: DenoServer;

test.beforeAll(async () => {
  server = await launchDenoServer({ bundle: await buildDemoBundle() });
});

test.afterAll(async () => {
  await server?.close();
});

test('the panel shows the measured charts and lists every offered rung', async ({ page }) => {
  await page.goto(`${server.url}/`);
  await expect(page.locator('#hol')).toBeVisible();
  const images = page.locator('#hol figure img');
  await expect(images).toHaveCount(3);
  for (const img of await images.all()) {
    await img.scrollIntoViewIfNeeded();
    await expect
      .poll(() => img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth > 0))
      .toBe(true);
  }
  const options = await page.locator('#hol select option').evaluateAll((list) =>
    list.map((o) => ({
      value: (o as HTMLOptionElement).value,
      disabled: (o as HTMLOptionElement).disabled,
    })),
  );
  expect(options.map((o) => o.value)).toEqual([
    'websocket',
    'sse',
    'wt-streams',
    'wt-one-stream',
    'wt-datagrams',
  ]);
  expect(options.every((o) => !o.disabled)).toBe(true);
});

test('the live run draws a row per run with the rung it used', async ({ page }) => {
  await page.goto(`${server.url}/`);
  await page.locator('#hol select').selectOption('wt-streams');
  await page.locator('#hol button').click();
  await expect(page.locator('#hol')).toHaveAttribute('data-state', 'done', { timeout: 40_000 });
  const cells = await page.locator('#hol tr[data-scenario="wt-streams"] td').allTextContents();
  expect(cells[1]).toBe('webtransport');
  expect(cells[6]).toBe('100.0 %');
});

for (const scenario of ['websocket', 'sse', 'wt-streams', 'wt-one-stream', 'wt-datagrams']) {
  test(`workload through the panel's hook: ${scenario}`, async ({ page }) => {
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => 'switchyardHol' in window);
    const result = await page.evaluate(
      (id) =>
        (
          window as unknown as {
            switchyardHol: {
              run(
                s: string,
                w: object,
              ): Promise<{ rung: string; sent: number[]; samples: number[][]; incidents: string[] }>;
            };
          }
        ).switchyardHol.run(id, { durationMs: 1500, warmupMs: 300, bulkChunkBytes: 32 * 1024 }),
      scenario,
    );
    expect(result.rung).toBe(scenario.startsWith('wt-') ? 'webtransport' : scenario);
    expect(result.incidents).toEqual([]);
    const sent = result.sent.reduce((a, b) => a + b, 0);
    expect(sent).toBeGreaterThan(100);
    // Every channel delivered; reliable rungs deliver everything (datagrams may drop, even on loopback).
    expect(new Set(result.samples.map((s) => s[0])).size).toBe(8);
    if (scenario !== 'wt-datagrams') expect(result.samples).toHaveLength(sent);
  });
}
