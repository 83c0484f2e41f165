/**
 * Starts the Deno binding from Node (for `npm start` and the browser e2e): spawns the `deno` binary that
 * the npm package ships, waits for its ready line, and stops it gracefully (SIGTERM -> 1001 to clients).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface DenoServer {
  readonly url: string;
  readonly port: number;
  /** The UDP port WebTransport listens on (the HTTP port's number unless WEBTRANSPORT_PORT says otherwise). */
  readonly webTransportPort: number | null;
  readonly rungs: readonly string[];
  readonly process: ChildProcess;
  close(): Promise<void>;
}

export interface LaunchOptions {
  readonly port?: number;
  readonly hostname?: string;
  readonly heartbeatMs?: number;
  /** The demo page's browser bundle; written to a temp file the Deno process reads. */
  readonly bundle?: string;
  /** Inherit stdout/stderr after the ready line (npm start) or keep quiet (tests). */
  readonly inheritOutput?: boolean;
  /** Extra environment for the Deno process (PUBLIC_URL, TRUST_PROXY, WEBTRANSPORT_PORT, SWITCHYARD_APP, REDIS_URL...). */
  readonly env?: Readonly<Record<string, string>>;
}

/** How every switchyard Deno process runs: QUIC needs --unstable-net; permissions are the minimum it uses. */
export const DENO_RUN = ['run', '--no-check', '--unstable-net', '--allow-net', '--allow-read', '--allow-env'];

/** Path of the `deno` binary from the npm package, or null when it is not installed. */
export function denoBinary(): string | null {
  try {
    const require = createRequire(import.meta.url);
    const pkg = require.resolve('deno/package.json');
    return join(pkg, '..', 'deno');
  } catch {
    return null;
  }
}

export async function launchDenoServer(options: LaunchOptions = {}): Promise<DenoServer> {
  const deno = denoBinary();
  if (!deno) throw new Error('the deno npm package is not installed');
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PORT: String(options.port ?? 0),
    HOST: options.hostname ?? '127.0.0.1',
    HEARTBEAT_MS: String(options.heartbeatMs ?? 15_000),
    DENO_NO_UPDATE_CHECK: '1',
    ...options.env,
  };
  if (options.bundle !== undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-'));
    const file = join(dir, 'demo.js');
    writeFileSync(file, options.bundle);
    env.DEMO_BUNDLE = file;
  }
  const child = spawn(deno, [...DENO_RUN, 'server/deno/main.ts'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', options.inheritOutput ? 'inherit' : 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const lines = createInterface({ input: child.stdout! });
  type Ready = { url: string; port: number; webTransportPort: number | null; rungs: string[] };
  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`deno binding did not start in 30 s: ${stderr}`)),
      30_000,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`deno binding exited with ${code}: ${stderr}`));
    });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line) as Ready);
      } catch {
        reject(new Error(`unexpected first line from deno: ${line}`));
      }
    });
  });
  if (options.inheritOutput) lines.on('line', (line) => console.log(line));
  return {
    ...ready,
    process: child,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const force = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
