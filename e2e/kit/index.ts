/**
 * switchyard/playwright: Playwright fixtures for an app's own suite to test its fall-back, per test, in real
 * browsers: block QUIC, block WebSocket, buffer responses, go offline and back, drop the network silently,
 * then assert which rung the page landed on and that no message was lost. Guide:
 * docs/testing-with-playwright.md.
 *
 *   import { test, expect } from 'switchyard/playwright';
 *   test.use({ switchyardTarget: 'http://127.0.0.1:8080' });   // default: the project's baseURL
 *   test('falls back to WebSocket', async ({ page, network, switchyard }) => {
 *     await network.blockQuic();
 *     await page.goto(network.url('/'));
 *     await switchyard.waitForRung('websocket');
 *     await switchyard.expectNoLoss('chat', { count: 10 });
 *   });
 *
 * The page half is `probe(client)` from `switchyard/playwright/probe`.
 */
import { test as base } from '@playwright/test';
import { Network } from './network.ts';
import { SwitchyardReader } from './reader.ts';

export { expect } from '@playwright/test';
export { Network } from './network.ts';
export { dropAllOn, dropUdpTo, type PacketRule } from './nft.ts';
export {
  type NginxRun,
  type ProxyMode,
  type ProxyOptions,
  type RunningNginx,
  type RunningProxy,
  runNginx,
  startProxy,
} from './nginx.ts';
export type { ProbeSnapshot } from './probe.ts';
export type { NoLossOptions, Rung, WaitOptions } from './reader.ts';
export { SwitchyardReader } from './reader.ts';
export {
  KitRequirementError,
  missingRequirements,
  nginxBinary,
  type Requirement,
  requireFor,
} from './requirements.ts';
export { sequenceProblems } from './sequence.ts';

export interface SwitchyardOptions {
  /** The app's server the page talks to; default: the project's `baseURL`. */
  readonly switchyardTarget: string | undefined;
}

export interface SwitchyardFixtures {
  /** Network conditions for this test, undone when it ends. */
  readonly network: Network;
  /** Assertions on what `probe(client)` recorded in the page. */
  readonly switchyard: SwitchyardReader;
}

export const test = base.extend<SwitchyardFixtures & SwitchyardOptions>({
  switchyardTarget: [undefined, { option: true }],
  network: async ({ switchyardTarget, baseURL, context }, use) => {
    const target = switchyardTarget ?? baseURL;
    if (!target) {
      throw new Error(
        'switchyard/playwright: set `switchyardTarget` (test.use or a fixture) or the project `baseURL` to the app server URL',
      );
    }
    const network = new Network(new URL(target), context);
    try {
      await use(network);
    } finally {
      await network.dispose();
    }
  },
  switchyard: async ({ page }, use) => {
    await use(new SwitchyardReader(page));
  },
});
