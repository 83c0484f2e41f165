// The chat's fall-back, tested the way switchyard/playwright is meant to be used: each test puts the page
// behind one network condition, then asserts which rung it landed on (the status line and the probe), how
// soon after navigation it was connected, and that no chat message or server announcement was lost.
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures.ts';

/**
 * Navigation start to connected, page load included. The goal is 700 ms on every network (switchyard's
 * docs/fallback.md has the measured numbers); the bound leaves room for a busy shared machine, and still
 * fails a client that waits out WebTransport's 1000 ms budget before trying anything else.
 */
const CONNECTED_WITHIN_MS = 1200;

async function openChat(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'connected');
}

async function say(page: Page, ...texts: string[]): Promise<void> {
  for (const text of texts) {
    await page.fill('#text', text);
    await page.press('#text', 'Enter');
  }
}

test('takes WebTransport when nothing is in the way', async ({ page, network, switchyard }) => {
  await openChat(page, network.url('/?probe'));
  await switchyard.expectConnectedWithin(CONNECTED_WITHIN_MS, { rung: 'webtransport' });
  await say(page, 'one', 'two', 'three');
  await expect(page.locator('#log li')).toHaveText(['one', 'two', 'three']);
  await switchyard.expectNoLoss('chat', { count: 3 });
});

test('QUIC blocked: falls back to WebSocket', async ({ page, network, switchyard }) => {
  await network.blockQuic();
  await openChat(page, network.url('/?probe'));
  await switchyard.expectConnectedWithin(CONNECTED_WITHIN_MS, { rung: 'websocket' });
  await expect(page.locator('#status')).toHaveText('connected over websocket');
  await say(page, 'over websocket');
  await switchyard.expectNoLoss('chat', { count: 1 });
});

test('QUIC blocked and a proxy that strips Upgrade: falls back to SSE', async ({
  page,
  network,
  switchyard,
}) => {
  await network.blockQuic();
  await network.blockWebSocket();
  await openChat(page, network.url('/?probe'));
  await switchyard.expectConnectedWithin(CONNECTED_WITHIN_MS, { rung: 'sse' });
  await say(page, 'over sse', 'still here');
  await switchyard.expectNoLoss('chat', { count: 2 });
  await switchyard.expectNoLoss('announcements');
});

test('behind an nginx that does not forward Upgrade: SSE, without waiting for WebTransport', async ({
  page,
  network,
  switchyard,
}) => {
  // WebTransport is offered at the proxy's address, where nothing answers UDP (Firefox waits, Chromium hears
  // a refusal): the race does not wait for it either way.
  await network.blockWebSocket();
  await openChat(page, network.url('/?probe'));
  await switchyard.expectConnectedWithin(CONNECTED_WITHIN_MS, { rung: 'sse' });
  await say(page, 'through nginx');
  await switchyard.expectNoLoss('chat', { count: 1 });
});

test('behind a buffering proxy: WebSocket, not the event stream it would starve', async ({
  page,
  network,
  switchyard,
}) => {
  await network.blockQuic();
  await network.bufferingProxy();
  await openChat(page, network.url('/?probe'));
  await switchyard.expectConnectedWithin(CONNECTED_WITHIN_MS, { rung: 'websocket' });
  await say(page, 'unbuffered');
  await switchyard.expectNoLoss('chat', { count: 1 });
});

test('offline and back: what was typed offline is sent, no announcement is missed', async ({
  page,
  network,
  switchyard,
}) => {
  await openChat(page, network.url('/?probe'));
  await say(page, 'before');
  await network.offline();
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'reconnecting');
  await say(page, 'typed offline');
  await page.waitForTimeout(1500); // announcements keep coming meanwhile
  await network.online();
  await switchyard.waitForRung('webtransport');
  await expect(page.locator('#log li')).toHaveText(['before', 'typed offline']);
  await switchyard.expectNoLoss('chat', { count: 2 });
  await switchyard.expectNoLoss('announcements');
});

test('silent network drop: the heartbeat notices, the chat comes back whole', async ({
  page,
  network,
  switchyard,
}) => {
  await openChat(page, network.url('/?probe'));
  await say(page, 'before the drop');
  await switchyard.expectNoLoss('chat', { count: 1 });
  await network.silentDrop();
  await say(page, 'during the drop');
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'reconnecting', { timeout: 15_000 });
  await network.restore();
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'connected', { timeout: 30_000 });
  await expect(page.locator('#log li')).toHaveText(['before the drop', 'during the drop']);
  await switchyard.expectNoLoss('chat', { count: 2 });
  await switchyard.expectNoLoss('announcements');
});
