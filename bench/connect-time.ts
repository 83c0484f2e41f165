/**
 * Time to connected, from outside, the way a user meets it: the example chat app (examples/chat, installed from
 * the packed tarball by `bash examples/chat/test.sh` or its first two steps) in real Chromium and Firefox, one
 * fresh browser context per run, time from navigation start to the page's first `connected` (the page's own
 * `performance` mark, so the page load is included), on each network the fall-back exists for. Reports
 * min / median / max per browser per network, the rung it landed on, and how many connections each rung opened
 * per page load (what racing costs the server). Docs: docs/fallback.md.
 *
 *   node --import tsx bench/connect-time.ts [--runs 5] [--browsers chromium,firefox] [--networks open,nginx,...]
 *     [--variants main=/tmp/main.js,race=/tmp/race.js] [--verbose]
 *
 * `--variants` compares other builds of examples/chat/app.ts (e.g. against an older switchyard) run by run,
 * interleaved, so the shared machine's load falls on each alike; the chat server is the installed one.
 *
 * Needs root, nftables and nginx (the networks come from switchyard/playwright's own fixtures, e2e/kit).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, firefox, type Page } from '@playwright/test';
import { dropAllOn, dropUdpTo, type PacketRule } from '../e2e/kit/nft.ts';
import { freePort, type ProxyOptions, type RunningProxy, startProxy } from '../e2e/kit/nginx.ts';
import { CHROMIUM_ARGS } from '../e2e/support/chromium-args.ts';
import { median } from './lib/stats.ts';

const example = fileURLToPath(new URL('../examples/chat/', import.meta.url));

interface Setup {
  /** Where the page goes. */
  url: string;
  /** Undone after the network's runs. */
  undo: () => Promise<void>;
  /** After the page connected: impairs the network and returns what it measured instead. */
  after?: (page: Page) => Promise<{ ms: number; attempts: string[] }>;
}

interface ChatServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The chat server; retried, since a TCP port chosen by the OS may be taken on UDP (WebTransport) already. */
async function startChat(env: Record<string, string> = {}): Promise<ChatServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startChatOnce(env);
    } catch (error) {
      if (attempt >= 10) throw error;
    }
  }
}

async function startChatOnce(env: Record<string, string>): Promise<ChatServer> {
  const deno: ChildProcess = spawn(
    `${example}node_modules/.bin/deno`,
    ['run', '--unstable-net', '--allow-net', '--allow-read', '--allow-env', 'server.ts'],
    {
      cwd: example,
      env: { ...process.env, PORT: '0', HEARTBEAT_MS: '1000', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const { url } = await new Promise<{ url: string }>((resolve, reject) => {
    deno.once('exit', (code) => reject(new Error(`the chat server exited with ${code}`)));
    createInterface({ input: deno.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
  });
  return {
    url,
    port: Number(new URL(url).port),
    async close() {
      const exited = new Promise((resolve) => deno.once('exit', resolve));
      deno.kill('SIGTERM');
      await exited;
    },
  };
}

/** Undoes in the order given. */
const undoAll =
  (...steps: (() => unknown)[]) =>
  async () => {
    for (const step of steps) await step();
  };

/** QUIC blocked (UDP to the server and the proxy dropped) behind an nginx in `proxy` mode. */
async function quicBlockedBehind(
  chat: () => Promise<ChatServer>,
  proxy: Omit<ProxyOptions, 'upstream'>,
): Promise<Setup> {
  const server = await chat();
  const running = await startProxy({ ...proxy, upstream: server.url });
  const drop = dropUdpTo([server.port, running.port], 'bench: QUIC blocked');
  return {
    url: running.url,
    undo: undoAll(
      () => drop.remove(),
      () => running.close(),
      () => server.close(),
    ),
  };
}

/** Each network: how it is made, and the rung the page must land on. */
const NETWORKS: Record<
  string,
  { expect: string; make: (chat: () => Promise<ChatServer>) => Promise<Setup> }
> = {
  open: {
    expect: 'webtransport',
    make: async (chat) => {
      const server = await chat();
      return { url: server.url, undo: () => server.close() };
    },
  },
  // Stock nginx in front, Upgrade not forwarded, PUBLIC_URL pointing at it (README): WebTransport goes to the
  // proxy's port, where nothing listens on UDP; WebSocket gets 426; SSE works.
  nginx: {
    expect: 'sse',
    make: async () => {
      const port = await freePort('127.0.0.1');
      const server = await startChat({ PUBLIC_URL: `http://127.0.0.1:${port}` });
      let proxy: RunningProxy;
      try {
        proxy = await startProxy({ upstream: server.url, mode: 'strip-upgrade', port });
      } catch (error) {
        await server.close();
        throw error;
      }
      return {
        url: proxy.url,
        undo: undoAll(
          () => proxy.close(),
          () => server.close(),
        ),
      };
    },
  },
  'quic-blocked': {
    expect: 'websocket',
    make: async (chat) => {
      const server = await chat();
      const drop = dropUdpTo([server.port], 'bench: QUIC blocked');
      return {
        url: server.url,
        undo: undoAll(
          () => drop.remove(),
          () => server.close(),
        ),
      };
    },
  },
  // The upgrade succeeds, then the proxy's stand-in upstream closes: WebSocket opens and dies before its pong.
  'ws-dropped': { expect: 'sse', make: (chat) => quicBlockedBehind(chat, { mode: 'upgrade-then-drop' }) },
  // The upgrade succeeds, then nothing: no frame either way, no close (the slow failure).
  'ws-silenced': { expect: 'sse', make: (chat) => quicBlockedBehind(chat, { mode: 'upgrade-then-silence' }) },
  // nginx that buffers event streams but passes WebSockets: only WebSocket really works.
  'buffering-proxy': {
    expect: 'websocket',
    make: (chat) => quicBlockedBehind(chat, { mode: 'pass', buffering: true }),
  },
  // Connected on WebTransport, then every packet to and from the server dropped for 2 s (no FIN, no RST),
  // then back: measured from the restore to connected again (the row's numbers are that, not the page load).
  'drop-2s': {
    expect: 'webtransport',
    make: async (chat) => {
      const server = await chat();
      let drop: PacketRule | undefined;
      return {
        url: server.url,
        after: async (page) => {
          drop = dropAllOn([server.port], 'bench: network down for 2 s');
          await page.waitForFunction(() => document.getElementById('status')?.dataset.state !== 'connected');
          await new Promise((resolve) => setTimeout(resolve, 2000));
          await page.evaluate(() => {
            const w = window as unknown as { reconnected?: Promise<number> };
            w.reconnected = new Promise<number>((resolve) => {
              const status = document.getElementById('status')!;
              new MutationObserver(() => {
                if (status.dataset.state === 'connected') resolve(performance.now());
              }).observe(status, { attributes: true });
            });
          });
          const restoredAt = await page.evaluate(() => performance.now());
          drop.remove();
          const connectedAt = await page.evaluate(
            () => (window as unknown as { reconnected: Promise<number> }).reconnected,
          );
          // What the reconnect tried, from the drop on (the page load's attempts are replaced).
          const attempts = await page.evaluate(() => {
            const probes = (globalThis as Record<string, unknown>).__switchyardProbes as Record<
              string,
              () => { attempts: { kind: string; ok: boolean; elapsedMs: number; error?: string }[] }
            >;
            return probes.default!().attempts.map(
              (a) => `${a.kind}:${a.elapsedMs}:${a.ok ? 'ok' : (a.error ?? 'fail')}`,
            );
          });
          return { ms: Math.round(connectedAt - restoredAt), attempts };
        },
        undo: undoAll(
          () => drop?.remove(),
          () => server.close(),
        ),
      };
    },
  },
};

interface Run {
  ms: number;
  phases: string;
  rung: string | null;
  attempts: string[];
}

async function visit(page: Page, url: string): Promise<Run> {
  await page.goto(url, { waitUntil: 'commit' });
  await page.waitForFunction(() => performance.getEntriesByName('switchyard:connected').length > 0, null, {
    timeout: 30_000,
    polling: 50,
  });
  return page.evaluate(() => {
    const probes = (globalThis as Record<string, unknown>).__switchyardProbes as Record<
      string,
      () => {
        rung: string | null;
        attempts: { kind: string; ok: boolean; elapsedMs: number; error?: string }[];
      }
    >;
    const snapshot = probes.default!();
    // (No helper functions in here: the bundler's name helper does not exist in the page.)
    const timing: Record<string, PerformanceResourceTiming> = {};
    for (const e of performance.getEntriesByType('resource') as PerformanceResourceTiming[]) {
      timing[new URL(e.name).pathname] ??= e;
    }
    return {
      ms: Math.round(performance.getEntriesByName('switchyard:connected')[0]!.startTime),
      // Where the time went: the page's script loaded, negotiate asked and answered.
      phases: `app.js ${Math.round(timing['/app.js']?.responseEnd ?? -1)}, negotiate ${Math.round(timing['/rt/negotiate']?.startTime ?? -1)}-${Math.round(timing['/rt/negotiate']?.responseEnd ?? -1)}`,
      rung: snapshot.rung,
      attempts: snapshot.attempts.map((a) => `${a.kind}:${a.elapsedMs}:${a.ok ? 'ok' : (a.error ?? 'fail')}`),
    };
  });
}

function parseArgs() {
  const args = process.argv.slice(2);
  const value = (name: string, fallback: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
  };
  return {
    runs: Number(value('runs', '5')),
    browsers: value('browsers', 'chromium,firefox').split(','),
    networks: value('networks', 'open,nginx,quic-blocked').split(','),
    verbose: args.includes('--verbose'),
    /** `--variants main=/tmp/main.js,new=/tmp/new.js`: other builds of examples/chat/app.ts to compare. */
    variants: (value('variants', '') || '')
      .split(',')
      .filter(Boolean)
      .map((v) => v.split('=') as [string, string]),
  };
}

async function launch(name: string): Promise<Browser> {
  if (name === 'chromium') {
    return chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [...CHROMIUM_ARGS],
    });
  }
  return firefox.launch({
    channel: 'moz-firefox',
    executablePath: process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr',
  });
}

async function main(): Promise<void> {
  if (!existsSync(`${example}node_modules/switchyard`) || !existsSync(`${example}dist/app.js`)) {
    throw new Error(
      'install and build the example first: bash examples/chat/test.sh (or its pack/install steps, then npm run build there)',
    );
  }
  const { runs, browsers, networks, verbose, variants } = parseArgs();
  const rows: string[] = [];
  const bundlePath = `${example}dist/app.js`;
  const installed = await readFile(bundlePath);
  // Variants (name=bundle file) run interleaved, run by run, so that the machine's load hits them alike.
  const bundles = variants.length
    ? await Promise.all(variants.map(async ([name, path]) => [name, await readFile(path)] as const))
    : [['', installed] as const];
  try {
    for (const browserName of browsers) {
      const browser = await launch(browserName);
      try {
        for (const network of networks) {
          const spec = NETWORKS[network];
          if (!spec)
            throw new Error(`unknown network ${network}; known: ${Object.keys(NETWORKS).join(', ')}`);
          const first = new Map<string, Run[]>(bundles.map(([name]) => [name, []]));
          const second = new Map<string, Run[]>(bundles.map(([name]) => [name, []]));
          for (let i = 0; i < runs; i++) {
            for (const [variant, bundle] of bundles) {
              // The chat server reads its bundle when it starts.
              await writeFile(bundlePath, bundle);
              // A fresh server per run: no warm connections, caches or sessions from the run before.
              const setup = await spec.make(startChat);
              const context = await browser.newContext();
              try {
                const page = await context.newPage();
                const run = await visit(page, `${setup.url}/?probe`);
                if (setup.after) {
                  const measured = await setup.after(page);
                  run.ms = measured.ms;
                  run.attempts = measured.attempts.slice(run.attempts.length);
                }
                first.get(variant)!.push(run);
                // Second visit in the same context: the rung is remembered (localStorage).
                if (!setup.after) second.get(variant)!.push(await visit(page, `${setup.url}/?probe`));
              } finally {
                await context.close();
                await setup.undo();
              }
              if (verbose) {
                const last = (m: Map<string, Run[]>) => JSON.stringify(m.get(variant)!.at(-1));
                console.error(browserName, network, variant, last(first), last(second));
              }
            }
          }
          const report = (label: string, list: Run[]) => {
            if (!list.length) return;
            const ms = list.map((r) => r.ms);
            const landed = [...new Set(list.map((r) => r.rung))].join('/');
            const opened: Record<string, number> = {};
            for (const r of list)
              for (const a of r.attempts) {
                const kind = a.split(':')[0]!;
                if (kind !== 'negotiate') opened[kind] = (opened[kind] ?? 0) + 1 / list.length;
              }
            const perLoad = Object.entries(opened)
              .map(([k, n]) => `${k} ${n.toFixed(2)}`)
              .join(', ');
            const ok = list.every((r) => r.rung === spec.expect) ? '' : ` (expected ${spec.expect})`;
            rows.push(
              `| ${browserName} | ${network}${label} | ${Math.min(...ms)} / ${Math.round(median(ms))} / ${Math.max(...ms)} | ${landed}${ok} | ${perLoad} |`,
            );
            console.log(rows.at(-1));
          };
          for (const [variant] of bundles) {
            const tag = variant ? ` [${variant}]` : '';
            report(tag, first.get(variant)!);
            report(`${tag} (second visit)`, second.get(variant)!);
          }
        }
      } finally {
        await browser.close();
      }
    }
  } finally {
    await writeFile(bundlePath, installed);
  }
  console.log(
    `\n| browser | network | connected ms after navigation start (min / median / max, ${runs} runs) | rung | attempts per page load |\n|---|---|---|---|---|\n${rows.join('\n')}`,
  );
}

await main();
