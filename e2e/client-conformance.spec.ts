/**
 * The client conformance suite (test/conformance/client-suite.ts) in Chromium and Firefox against the Deno
 * binding, on every rung: WebTransport over native HTTP/3 (topic lanes, datagrams), WebSocket and SSE. The
 * same scenarios run from Node and Deno; here they run in the browser an app's users have.
 */
import { bundleForBrowser } from '../server/demo/bundle.ts';
import { type DenoServer, launchDenoServer } from '../server/deno/launch.ts';
import { type SuiteResults, scenarios } from '../test/conformance/client-suite.ts';
import { expect, test } from './fixtures.ts';

let server: DenoServer;

test.beforeAll(async () => {
  const bundle = await bundleForBrowser({
    contents: `
      import { createClient } from './src/client/index.ts';
      import { browserTransports } from './transports/index.browser.ts';
      import { runSuite } from './test/conformance/client-suite.ts';
      window.sy = { createClient, browserTransports, runSuite };
    `,
  });
  server = await launchDenoServer({ bundle });
});

test.afterAll(async () => {
  await server?.close();
});

for (const kind of ['webtransport', 'websocket', 'sse'] as const) {
  test(`client conformance over ${kind}`, async ({ page }) => {
    test.setTimeout(90_000);
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => 'sy' in window);
    const results = await page.evaluate(async (kind) => {
      type Sy = {
        createClient(o: object): unknown;
        browserTransports: object;
        runSuite(rig: object): Promise<Record<string, string>>;
      };
      const sy = (window as unknown as { sy: Sy }).sy;
      const negotiate = await (await fetch('/rt/negotiate')).json();
      // URLs in negotiate are relative to it.
      const tokenUrl = new URL(negotiate.tokenUrl, new URL('/rt/negotiate', location.href)).href;
      const token = async () => (await (await fetch(tokenUrl, { method: 'POST' })).json()).token as string;
      return sy.runSuite({
        kind,
        create: (options: object = {}) =>
          sy.createClient({
            url: location.origin,
            transports: sy.browserTransports,
            order: [kind],
            rememberRung: false,
            climb: false,
            token,
            ...options,
          }),
        topic: (name: string) => `echo.${kind}.${name}.${Math.random().toString(36).slice(2, 8)}`,
      });
    }, kind);
    const expected: SuiteResults = Object.fromEntries(Object.keys(scenarios).map((name) => [name, 'ok']));
    expect(results).toEqual(expected);
  });
}
