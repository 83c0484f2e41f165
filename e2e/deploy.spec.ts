/**
 * Behind the reverse proxies of docs/deploying.md, run from docs/deploy/ as written (addresses substituted,
 * see deploy/proxies.ts), in Chromium and Firefox, over https on port 443 of a loopback address of the
 * test's own, in front of the Deno binding (all three rungs) configured by the environment variables the
 * docs name. Each configuration must land the default client on the best rung that proxy allows, carry every
 * rung it should (each pinned in turn) and refuse the ones it cannot; and no URL the browser is handed or
 * opens may name the upstream (127.0.0.1:<port>).
 *
 * Needs root (port 443, nftables-free), nginx with the stream module, Caddy and HAProxy: CI installs them.
 */
import { expect, type Page, test } from '@playwright/test';
import { type DenoServer, launchDenoServer } from '../server/deno/launch.ts';
import { clientBundle } from './client-page.ts';
import {
  createSite,
  type RunningProxy,
  type Site,
  startCaddySite,
  startHaproxySite,
  startNginxSite,
} from './deploy/proxies.ts';
import { requireFor } from './kit/requirements.ts';

type Rung = 'webtransport' | 'websocket' | 'sse';

interface Scenario {
  readonly name: string;
  /** What the app is started with (the one line docs/deploying.md says to set). */
  readonly env: (site: Site) => Record<string, string>;
  readonly start: (site: Site, upstreamPort: number) => Promise<RunningProxy>;
  readonly best: Rung;
  readonly carries: readonly Rung[];
}

const trust = { TRUST_PROXY: 'x-forwarded' };
/** The app binds UDP 443 of the public address itself (proxies that cannot relay QUIC). */
const ownUdp = (site: Site) => ({ ...trust, WEBTRANSPORT_PORT: '443', WEBTRANSPORT_HOST: site.ip });

const scenarios: Scenario[] = [
  {
    name: 'nginx, defaults only (nginx-defaults.conf)',
    env: (site) => ({ PUBLIC_URL: `https://${site.ip}` }),
    start: (site, port) => startNginxSite(site, port, { http: 'nginx-defaults.conf' }),
    best: 'sse',
    carries: ['sse'],
  },
  {
    name: 'nginx, the usual $host + X-Forwarded-* block (nginx.conf)',
    env: () => trust,
    start: (site, port) => startNginxSite(site, port, { http: 'nginx.conf' }),
    best: 'websocket',
    carries: ['websocket', 'sse'],
  },
  {
    name: 'nginx with UDP forwarded to QUIC (nginx.conf + nginx-quic.conf)',
    env: () => trust,
    start: (site, port) => startNginxSite(site, port, { http: 'nginx.conf', stream: 'nginx-quic.conf' }),
    best: 'webtransport',
    carries: ['webtransport', 'websocket', 'sse'],
  },
  {
    name: 'Caddy (Caddyfile), QUIC on the app',
    env: ownUdp,
    start: startCaddySite,
    best: 'webtransport',
    carries: ['webtransport', 'websocket', 'sse'],
  },
  {
    name: 'HAProxy (haproxy.cfg), QUIC on the app',
    env: ownUdp,
    start: startHaproxySite,
    best: 'webtransport',
    carries: ['webtransport', 'websocket', 'sse'],
  },
];

test.use({ ignoreHTTPSErrors: true });

let bundle: string;
let site: Site;
test.beforeAll(async () => {
  requireFor('the deployment e2e (port 443 on a private loopback address)', [
    'root',
    'nginx',
    'nginx-stream',
  ]);
  bundle = await clientBundle();
  site = await createSite();
});
test.afterAll(() => site?.dispose());

interface Outcome {
  rung: string | null;
  error?: string;
  echoed?: unknown;
}

/** One client in the page (default ladder, or pinned to `order`), one publish echoed back through the hub. */
function connect(page: Page, order: readonly Rung[] | undefined): Promise<Outcome> {
  return page.evaluate(async (order) => {
    type C = {
      on: (
        t: string,
        f: (e: { data?: unknown; kind?: string; ok?: boolean; error?: string }) => void,
      ) => void;
      subscribe: (t: string) => unknown;
      publish: (t: string, d: unknown) => Promise<void>;
      connect: () => Promise<void>;
      dispose: () => void;
      rung: string | null;
    };
    type Factory = (o: { url: string }) => unknown;
    const w = window as unknown as {
      sy: { createClient: (o: object) => C; browserTransports: Record<string, Factory> };
      opened: string[];
    };
    w.opened ??= [];
    // Every URL a rung is opened with, resolved by the client from /rt/negotiate.
    const transports = Object.fromEntries(
      Object.entries(w.sy.browserTransports).map(([kind, factory]) => [
        kind,
        (o: { url: string }) => {
          w.opened.push(o.url);
          return factory(o);
        },
      ]),
    );
    localStorage.clear();
    const failures: string[] = [];
    const client = w.sy.createClient({
      url: location.origin,
      transports,
      rememberRung: false,
      climb: false,
      ...(order ? { order, backoff: { maxAttempts: 1 } } : {}),
      token: async () =>
        ((await (await fetch('/rt/token', { method: 'POST' })).json()) as { token: string }).token,
    });
    client.on('attempt', (a) => {
      if (!a.ok) failures.push(`${a.kind}: ${a.error}`);
    });
    const topic = `echo.deploy.${Math.random().toString(36).slice(2)}`;
    client.subscribe(topic);
    const echoed = new Promise((resolve) => client.on('message', (m) => resolve(m.data)));
    try {
      await client.connect();
      await client.publish(topic, 'through the proxy');
      return { rung: client.rung, echoed: await echoed };
    } catch (error) {
      return { rung: null, error: `${(error as Error).message}: ${failures.join('; ')}` };
    } finally {
      client.dispose();
    }
  }, order);
}

for (const scenario of scenarios) {
  test.describe(scenario.name, () => {
    let app: DenoServer;
    let proxy: RunningProxy;
    // A fresh address (a fresh origin) per configuration: browsers remember that QUIC failed to a host:port
    // (Firefox does, across contexts), which would leak one configuration's outcome into the next.
    let site: Site;
    test.beforeAll(async () => {
      site = await createSite();
      app = await launchDenoServer({ port: 0, bundle, heartbeatMs: 5000, env: scenario.env(site) });
      proxy = await scenario.start(site, app.port);
    });
    test.afterAll(async () => {
      await proxy?.close();
      await app?.close();
      site?.dispose();
    });

    test(`lands on ${scenario.best}, carries ${scenario.carries.join(' + ')}, and never names the upstream`, async ({
      page,
      browserName,
    }) => {
      const seen: string[] = [];
      page.on('request', (r) => seen.push(r.url()));
      page.on('websocket', (ws) => seen.push(ws.url()));
      page.on('response', async (r) => {
        if (r.url().includes('/rt/negotiate')) seen.push(await r.text().catch(() => ''));
      });
      await page.goto(`https://${site.ip}/`);
      await page.waitForFunction(() => 'sy' in window);

      const ladder = await connect(page, undefined);
      expect(ladder, JSON.stringify(ladder)).toEqual({ rung: scenario.best, echoed: 'through the proxy' });
      const pinned: Record<string, string> = {};
      for (const rung of ['webtransport', 'websocket', 'sse'] as const) {
        const outcome = await connect(page, [rung]);
        pinned[rung] = outcome.rung === rung ? 'ok' : `failed (${outcome.error})`;
        if (scenario.carries.includes(rung)) {
          expect(outcome, `${rung}: ${JSON.stringify(outcome)}`).toEqual({
            rung,
            echoed: 'through the proxy',
          });
        } else {
          expect(outcome.rung, `${rung} should not pass this proxy`).toBeNull();
        }
      }
      console.log(
        `[deploy] ${browserName} ${scenario.name}: ladder=${ladder.rung} ${JSON.stringify(pinned)}`,
      );

      const opened = await page.evaluate(() => (window as unknown as { opened: string[] }).opened);
      seen.push(...opened);
      expect(opened.length).toBeGreaterThan(0);
      for (const url of opened) expect(new URL(url).hostname).toBe(site.ip);
      const upstream = [`127.0.0.1:${app.port}`, `:${app.port}/`];
      const leaks = seen.filter((text) => upstream.some((u) => text.includes(u)));
      expect(leaks, 'URLs handed to the browser that name the upstream').toEqual([]);
    });
  });
}
