/**
 * Presence on the demo page in a real browser: every rung panel counts the clients on its rung's topic. A
 * second page joining makes the first page's counts go up on every rung, and its closing brings them back down.
 * A closed WebSocket says goodbye at once; a closed tab's SSE stream just stops, and the server, which holds an
 * SSE session for a resume, lets it go after 2.5 heartbeat intervals of silence: the heartbeat is short here
 * (2 s) so that the leave comes within the wait below.
 */
import { expect, startDemoServer, test } from './fixtures.ts';

test("a page's presence list follows a second page joining and leaving", async ({ page, context }) => {
  const own = await startDemoServer({ heartbeatMs: 2000 });
  try {
    await page.goto(`${own.url}/`);
    const panels = page.locator('.rung');
    // The panels are made by the page's script once it knows the server's rungs: wait for them, not for load.
    await expect(panels.nth(1)).toBeAttached();
    const kinds = await panels.evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.kind));
    expect(kinds.length).toBeGreaterThanOrEqual(2);
    const presence = (kind: string | undefined) => page.locator(`.rung[data-kind="${kind}"] .presence`);
    for (const kind of kinds) await expect(presence(kind)).toHaveAttribute('data-presence', '1');

    const second = await context.newPage();
    await second.goto(`${own.url}/`);
    for (const kind of kinds) {
      await expect(presence(kind)).toHaveAttribute('data-presence', '2');
      await expect(presence(kind).locator('li')).toHaveCount(2);
      await expect(presence(kind)).toContainText('on this rung now: 2 clients');
    }

    await second.close();
    for (const kind of kinds) {
      await expect(presence(kind)).toHaveAttribute('data-presence', '1', { timeout: 15_000 });
      await expect(presence(kind).locator('li')).toHaveCount(1);
    }
  } finally {
    await own.close();
  }
});
