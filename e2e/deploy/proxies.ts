/**
 * Runs the reverse-proxy configurations of docs/deploy/ exactly as written, apart from addresses: the test
 * gets a loopback address of its own (127.x.y.z, port 443, so `$host` and default ports behave as in
 * production), a certificate for it, and the app's real upstream port. Every substitution is listed in
 * `substitute` and in docs/deploying.md; nothing else in the files changes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDevCertificate } from '../../server/certs.ts';
import { runNginx } from '../kit/nginx.ts';

export const DEPLOY_DIR = new URL('../../docs/deploy/', import.meta.url);

export function readDeployFile(name: string): string {
  return readFileSync(new URL(name, DEPLOY_DIR), 'utf8');
}

export interface Site {
  /** The public address browsers use (https://<ip>/), unique to this run. */
  readonly ip: string;
  readonly dir: string;
  readonly cert: string;
  readonly key: string;
  readonly certPath: string;
  readonly keyPath: string;
  /** cert + key in one file (HAProxy). */
  readonly combinedPath: string;
  dispose(): void;
}

/** A loopback address of this process's own (127.100-199.x.y) and a certificate naming it. */
export async function createSite(): Promise<Site> {
  const ip = `127.${100 + (process.pid % 100)}.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-deploy-'));
  const generated = await generateDevCertificate({ hosts: [ip] });
  const certPath = join(dir, 'site.pem');
  const keyPath = join(dir, 'site.key');
  const combinedPath = join(dir, 'site-combined.pem');
  writeFileSync(certPath, generated.cert);
  writeFileSync(keyPath, generated.key);
  writeFileSync(combinedPath, generated.cert + generated.key);
  return {
    ip,
    dir,
    cert: generated.cert,
    key: generated.key,
    certPath,
    keyPath,
    combinedPath,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The only changes made to a docs/deploy file before running it: addresses, ports and certificate paths. */
export function substitute(text: string, site: Site, upstreamPort: number): string {
  return text
    .replaceAll('127.0.0.1:8080', `127.0.0.1:${upstreamPort}`)
    .replaceAll('listen 443', `listen ${site.ip}:443`)
    .replaceAll('bind :443', `bind ${site.ip}:443`)
    .replaceAll('/etc/ssl/example.com.pem', site.certPath)
    .replaceAll('/etc/ssl/example.com.key', site.keyPath)
    .replaceAll('/etc/haproxy/example.com.pem', site.combinedPath)
    .replaceAll('example.com', site.ip);
}

/** An https GET to the site that trusts its test certificate; true when anything below 500 answers. */
export function answers(site: Site): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      { host: site.ip, port: 443, path: '/', method: 'GET', ca: site.cert, timeout: 1000 },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) < 500);
      },
    );
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export interface RunningProxy {
  readonly name: string;
  readonly config: string;
  close(): Promise<void>;
}

async function waitFor(
  check: () => Promise<boolean>,
  child: ChildProcess,
  output: () => string,
  what: string,
) {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}: ${output()}`);
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${what} did not answer within 15 s: ${output()}`);
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
}

function spawnLogged(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output: () => log };
}

/** nginx with docs/deploy/<http> (and the stream file, for WebTransport), through the kit's runner. */
export async function startNginxSite(
  site: Site,
  upstreamPort: number,
  files: { http: string; stream?: string },
): Promise<RunningProxy> {
  const http = substitute(readDeployFile(files.http), site, upstreamPort);
  const stream = files.stream ? substitute(readDeployFile(files.stream), site, upstreamPort) : undefined;
  const nginx = await runNginx({ http, ...(stream ? { stream } : {}), ready: () => answers(site) });
  return { name: 'nginx', config: nginx.config, close: () => nginx.close() };
}

/**
 * Caddy with docs/deploy/Caddyfile. Test-only additions, because this machine is shared: no admin endpoint,
 * no :80 redirect listener, state in a temp dir, and the site bound to the test's address.
 */
export async function startCaddySite(site: Site, upstreamPort: number): Promise<RunningProxy> {
  const config = substitute(readDeployFile('Caddyfile'), site, upstreamPort)
    .replace('{\n    servers', '{\n    admin off\n    auto_https disable_redirects\n    servers')
    .replace(`${site.ip} {\n`, `${site.ip} {\n    bind ${site.ip}\n`);
  const path = join(site.dir, 'Caddyfile');
  writeFileSync(path, config);
  const data = join(site.dir, 'caddy');
  const { child, output } = spawnLogged('caddy', ['run', '--config', path, '--adapter', 'caddyfile'], {
    ...process.env,
    XDG_DATA_HOME: data,
    XDG_CONFIG_HOME: data,
    HOME: data,
  });
  await waitFor(() => answers(site), child, output, 'caddy');
  return { name: 'caddy', config, close: stopper(child) };
}

/** HAProxy with docs/deploy/haproxy.cfg, in the foreground. */
export async function startHaproxySite(site: Site, upstreamPort: number): Promise<RunningProxy> {
  const config = substitute(readDeployFile('haproxy.cfg'), site, upstreamPort);
  const path = join(site.dir, 'haproxy.cfg');
  writeFileSync(path, config);
  const { child, output } = spawnLogged('haproxy', ['-f', path, '-db']);
  await waitFor(() => answers(site), child, output, 'haproxy');
  return { name: 'haproxy', config, close: stopper(child) };
}
