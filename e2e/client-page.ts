/**
 * Serves a page that loads the real client bundle (esbuild, the same way an app would bundle it) so that
 * browser tests drive `createClient` + `browserTransports` through `window.sy` (and attach the Playwright kit's
 * `probe`, as an app's test build would).
 */

import type { SwitchyardApp } from '../server/app.ts';
import { bundleForBrowser } from '../server/demo/bundle.ts';

export function clientBundle(): Promise<string> {
  return bundleForBrowser(
    {
      contents: `
        import { createClient } from './src/client/index.ts';
        import { browserTransports } from './transports/index.browser.ts';
        import { probe } from './e2e/kit/probe.ts';
        window.sy = { createClient, browserTransports, probe };
      `,
    },
    true,
  );
}

/** Adds `/client-test` (the page) and `/client-test.js` (the bundle) to a switchyard app. */
export function serveClientPage(app: SwitchyardApp, bundle: string): void {
  app.app.get('/client-test.js', (c) => c.body(bundle, 200, { 'content-type': 'text/javascript' }));
  app.app.get('/client-test', (c) =>
    c.html(
      '<!doctype html><meta charset="utf-8"><title>client</title><script type="module" src="/client-test.js"></script>',
    ),
  );
}
