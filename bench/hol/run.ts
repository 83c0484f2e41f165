/**
 * The head-of-line lab (`npm run lab:hol`): the real `npm start` server (Deno binding: HTTP/3 WebTransport,
 * WebSocket and SSE on one port) in one network namespace, headless Chromium running the production client in
 * another, joined by a path with a fixed delay, a narrow link and random loss (./netns.sh, ./linkem.c). Every
 * scenario runs the same workload (server/demo/hol-workload.ts) at every loss rate, repeated, in rotating
 * order so that drift on this shared machine hits every scenario alike. Writes every run's raw samples and the
 * summaries as JSON; ./charts.ts draws the charts from that file.
 *
 *   node --import tsx bench/hol/run.ts [--quick] [--repeats N] [--loss 0,1,2,5] [--scenarios a,b]
 *                                      [--duration-ms N] [--delay-ms 20] [--rate-mbit 20] [--out FILE]
 *                                      [--replace]
 *
 * `--replace` re-measures only `--scenarios` and merges their runs into the existing `--out` file in place of
 * that scenario's earlier runs (recorded under `reruns`, with the commit), for a fix that touches one rung.
 *
 * Needs root, ip, nft, tc and gcc (it says which is missing and exits non-zero).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from '@playwright/test';
import { CHROMIUM_ARGS } from '../../e2e/support/chromium-args.ts';
import {
  DEFAULT_WORKLOAD,
  HOL_SCENARIOS,
  type HolRunResult,
  type HolWorkload,
} from '../../server/demo/hol-workload.ts';
import { type LabRun, type LossCounters, runMetrics, summarize } from './analyze.ts';
import { type LabData, readLabData, replaceScenarios, VARIANTS, type Variant, writeLabData } from './data.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const NETNS = join(HERE, 'netns.sh');
const SERVER_IP = '10.201.0.1';
const PORT = 8780;
const ORIGIN = `http://${SERVER_IP}:${PORT}`;

export interface LabOptions {
  readonly quick: boolean;
  readonly repeats: number;
  readonly loss: number[];
  readonly scenarios: string[];
  /** `bulk`: the small channels beside a bulk upload; `quiet`: the small channels alone (loss only). */
  readonly variants: Variant[];
  readonly workload: Partial<HolWorkload>;
  readonly delayMs: number;
  readonly rateMbit: number;
  readonly queueKb: number;
  readonly out: string;
  /** Merge into the existing `out`, replacing only the scenarios run now. */
  readonly replace: boolean;
}

function parseArgs(argv: string[]): LabOptions {
  const arg = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const quick = argv.includes('--quick');
  const list = (v: string | undefined) => v?.split(',').filter(Boolean);
  const duration = arg('duration-ms');
  return {
    quick,
    repeats: Number(arg('repeats') ?? (quick ? 1 : 3)),
    loss: (list(arg('loss')) ?? (quick ? ['2'] : ['0', '1', '2', '5'])).map(Number),
    scenarios:
      list(arg('scenarios')) ??
      (quick ? ['websocket', 'wt-streams', 'wt-datagrams'] : HOL_SCENARIOS.map((s) => s.id)),
    variants: (list(arg('variants')) ?? ['bulk', 'quiet']).map((v) => {
      if (!(v in VARIANTS)) throw new Error(`unknown variant ${v} (bulk, quiet)`);
      return v as Variant;
    }),
    workload: {
      ...(quick ? { durationMs: 8000, warmupMs: 1000 } : { durationMs: 10_000 }),
      ...(duration ? { durationMs: Number(duration) } : {}),
    },
    delayMs: Number(arg('delay-ms') ?? 20),
    rateMbit: Number(arg('rate-mbit') ?? 20),
    queueKb: Number(arg('queue-kb') ?? 100),
    out: arg('out') ?? join(ROOT, 'docs', 'head-of-line', 'runs.json.gz'),
    replace: argv.includes('--replace'),
  };
}

const log = (line: string) => console.log(`[hol ${new Date().toISOString().slice(11, 19)}] ${line}`);

function netns(...args: string[]): string {
  return execFileSync('bash', [NETNS, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Reads the drop and pass counters of both ends' input hooks. */
function readCounters(id: string): LossCounters {
  const json = JSON.parse(netns('counters', id)) as Record<
    'server' | 'client',
    { nftables: { rule?: { expr: Record<string, unknown>[] } }[] }
  >;
  const side = (name: 'server' | 'client') => {
    let dropped = 0;
    let passed = 0;
    for (const entry of json[name].nftables) {
      const expr = entry.rule?.expr;
      if (!expr) continue;
      const counter = expr.find((e) => 'counter' in e)?.counter as { packets: number } | undefined;
      if (!counter) continue;
      if (expr.some((e) => 'drop' in e)) dropped += counter.packets;
      else if (!expr.some((e) => 'match' in e && JSON.stringify(e).includes('length')))
        passed += counter.packets;
    }
    return { dropped, passed };
  };
  return { upstream: side('server'), downstream: side('client') };
}

function diff(after: LossCounters, before: LossCounters): LossCounters {
  const d = (a: { dropped: number; passed: number }, b: { dropped: number; passed: number }) => ({
    dropped: a.dropped - b.dropped,
    passed: a.passed - b.passed,
  });
  return { upstream: d(after.upstream, before.upstream), downstream: d(after.downstream, before.downstream) };
}

let serverStderr = '';
const serverTail = () => serverStderr.slice(-1500) || '(nothing on stderr)';

async function startServer(id: string): Promise<ChildProcess> {
  // Exactly what `npm start` runs, inside the server's namespace.
  const child = spawn(
    'ip',
    ['netns', 'exec', `syhol-${id}-srv`, process.execPath, '--import', 'tsx', 'server/main.ts'],
    {
      cwd: ROOT,
      env: { ...process.env, HOST: SERVER_IP, PORT: String(PORT) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
    serverStderr = stderr;
  });
  child.once('exit', (code, signal) => log(`server process exited: code ${code}, signal ${signal}`));
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 60 s: ${stderr}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
    lines.on('line', (line) => {
      if (line.startsWith('rungs offered:')) {
        clearTimeout(timer);
        log(`server: ${line}`);
        resolve();
      }
    });
  });
  return child;
}

async function launchBrowser(id: string, runDir: string): Promise<Browser> {
  // Playwright drives the browser over pipes, which pass through `ip netns exec` untouched.
  const wrapper = join(runDir, 'chromium-in-netns.sh');
  writeFileSync(
    wrapper,
    `#!/bin/sh\nexec ip netns exec syhol-${id}-cli ${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'} "$@"\n`,
  );
  chmodSync(wrapper, 0o755);
  return chromium.launch({
    executablePath: wrapper,
    args: [
      ...CHROMIUM_ARGS,
      // The page is plain http on a namespace address: this makes it a secure context (WebTransport needs one).
      `--unsafely-treat-insecure-origin-as-secure=${ORIGIN}`,
    ],
  });
}

export async function runLab(options: LabOptions): Promise<LabData> {
  const started = performance.now();
  for (const s of options.scenarios) scenarioKind(s);
  const id = String(process.pid);
  const runDir = `/tmp/syhol-${id}`;
  let server: ChildProcess | undefined;
  let browser: Browser | undefined;
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    try {
      netns('down', id);
    } catch (error) {
      console.error(`cleanup: ${(error as Error).message}`);
    }
  };
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: tearing the namespaces down`);
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', cleanup);
  try {
    netns('check');
    log(
      `path: ${options.delayMs} ms each way, ${options.rateMbit} Mbit/s, ${options.queueKb} KB queue; loss ${options.loss.join(', ')} %; ${options.repeats} repeats of ${options.scenarios.join(', ')}`,
    );
    netns('up', id, String(options.delayMs), String(options.rateMbit), String(options.queueKb));
    mkdirSync(runDir, { recursive: true });
    server = await startServer(id);
    browser = await launchBrowser(id, runDir);
    // The demo page served by the server itself (same origin, same address space as every rung's URL): its
    // head-of-line panel exposes the shared workload as window.switchyardHol.
    const page = await (await browser.newContext()).newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().includes('404')) log(`page: ${m.text()}`);
    });
    const openPage = async () => {
      await page.goto(`${ORIGIN}/`);
      await page.waitForFunction(() => 'switchyardHol' in window);
    };
    await openPage();
    const chromiumVersion = browser.version();
    const runOnce = (scenario: string, workload: Partial<HolWorkload>) =>
      page.evaluate(
        ({ scenario, workload }) =>
          (
            window as unknown as {
              switchyardHol: { run(s: string, w: Partial<HolWorkload>): Promise<HolRunResult> };
            }
          ).switchyardHol.run(scenario, workload),
        { scenario, workload },
      ) as Promise<HolRunResult>;
    /** A server that died mid-run (it happened once, cause unknown: its stderr is logged) is restarted and the run repeated once. */
    const runScenario = async (scenario: string, workload: Partial<HolWorkload>): Promise<HolRunResult> => {
      try {
        return await runOnce(scenario, workload);
      } catch (error) {
        if (server?.exitCode === null && server.signalCode === null) throw error;
        log(
          `the server exited (${server?.exitCode ?? server?.signalCode}) during ${scenario}: ${serverTail()}`,
        );
        server = await startServer(id);
        await openPage();
        return runOnce(scenario, workload);
      }
    };

    const runs: LabRun[] = [];
    const total = options.repeats * options.loss.length * options.scenarios.length * options.variants.length;
    for (let repeat = 0; repeat < options.repeats; repeat++) {
      for (const lossPercent of options.loss) {
        for (const variant of options.variants) {
          const workload = { ...options.workload, ...VARIANTS[variant] };
          netns('loss', id, String(lossPercent));
          // Rotate the order each repeat: no scenario always runs first (or right after another).
          const order = options.scenarios.map(
            (_, i) => options.scenarios[(i + repeat) % options.scenarios.length] as string,
          );
          for (const scenario of order) {
            const before = readCounters(id);
            const result = await runScenario(scenario, workload);
            const run: LabRun = {
              loadAverage: Math.round((loadavg()[0] ?? 0) * 100) / 100,
              variant,
              scenario,
              lossPercent,
              repeat,
              result,
              counters: diff(readCounters(id), before),
            };
            runs.push(run);
            const m = runMetrics(run);
            log(
              `${runs.length}/${total} ${variant} ${scenario} @ ${lossPercent}% (rung ${result.rungs.join(',')}): p50 ${m.p50.toFixed(0)} p99 ${m.p99.toFixed(0)} max ${m.max.toFixed(0)} ms, stall ${m.stallMax.toFixed(0)} ms, delivered ${(m.delivered * 100).toFixed(1)}%, bulk ${m.bulkMbps.toFixed(2)} Mbit/s, loss up/down ${((m.measuredLoss?.upstream ?? 0) * 100).toFixed(1)}/${((m.measuredLoss?.downstream ?? 0) * 100).toFixed(1)}%${result.incidents.length ? `; incidents: ${result.incidents.join('; ')}` : ''}`,
            );
            if (result.rung !== scenarioKind(scenario)) {
              throw new Error(`${scenario} ran on ${result.rung}: the lab pins every run to its rung`);
            }
          }
        }
      }
    }
    await browser.close();
    browser = undefined;
    server.kill('SIGTERM');
    await new Promise((resolve) => server?.once('exit', resolve));
    server = undefined;
    netns('down', id);
    cleaned = true;
    const data: LabData = {
      createdAt: new Date().toISOString(),
      machine: {
        cpus: (await import('node:os')).cpus().length,
        kernel: (await import('node:os')).release(),
        chromium: chromiumVersion,
      },
      path: {
        oneWayDelayMs: options.delayMs,
        rateMbit: options.rateMbit,
        queueKb: options.queueKb,
        tcpCongestionControl: process.env.LAB_TCP_CC ?? 'reno',
      },
      workload: { ...DEFAULT_WORKLOAD, ...options.workload },
      elapsedMs: Math.round(performance.now() - started),
      variants: options.variants,
      linkem: readLinkem(runDir),
      summaries: summarize(runs),
      runs,
    };
    rmSync(runDir, { recursive: true, force: true });
    mkdirSync(dirname(options.out), { recursive: true });
    if (options.replace) {
      const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
        cwd: ROOT,
        encoding: 'utf8',
      }).trim();
      const rerun = {
        createdAt: data.createdAt,
        commit,
        scenarios: options.scenarios,
        elapsedMs: data.elapsedMs,
        linkem: data.linkem,
      };
      writeLabData(options.out, replaceScenarios(readLabData(options.out), data, rerun));
    } else {
      writeLabData(options.out, data);
    }
    log(`wrote ${options.out} (${runs.length} runs in ${(data.elapsedMs / 1000).toFixed(0)} s)`);
    return data;
  } finally {
    await browser?.close().catch(() => undefined);
    server?.kill('SIGKILL');
    cleanup();
    rmSync(runDir, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', cleanup);
  }
}

function scenarioKind(id: string): string {
  const scenario = HOL_SCENARIOS.find((s) => s.id === id);
  if (!scenario) throw new Error(`unknown scenario ${id}`);
  return scenario.kind;
}

function readLinkem(runDir: string): unknown {
  try {
    const lines = readFileSync(join(runDir, 'linkem.out'), 'utf8').trim().split('\n');
    return JSON.parse(lines.at(-1) ?? 'null');
  } catch {
    return null;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runLab(parseArgs(process.argv.slice(2))).catch((error: Error) => {
    console.error(`head-of-line lab failed: ${error.stack ?? error.message}`);
    process.exit(1);
  });
}
