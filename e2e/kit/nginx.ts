/**
 * A real reverse proxy (nginx) in front of an app's server, started as a child process with its own config,
 * temp directories and log in a temp dir, to reproduce what proxies do to real-time traffic:
 *
 * - `strip-upgrade`: a plain HTTP/1.1 `proxy_pass` that does not forward `Upgrade`/`Connection` (the most
 *   common misconfiguration). The WebSocket handshake reaches the server as a plain GET; SSE and POST pass.
 * - `pass`: forwards the upgrade (WebSockets work).
 * - `upgrade-then-silence`: the same stand-in keeps the connection open after the 101 and never sends or
 *   delivers anything again, like a middlebox that lets the upgrade through and then blackholes the frames.
 * - `upgrade-then-drop`: the upgrade goes to a stand-in upstream that completes the WebSocket handshake (a
 *   valid 101) and then closes, like a middlebox that accepts WebSockets and kills them.
 *
 * Response buffering stays at nginx's default (on), which with an HTTP/1.1 upstream still passes each chunk
 * on. `buffering: true` makes it a proxy that holds event streams back the two ways real ones do: it ignores
 * the server's `X-Accel-Buffering: no` and compresses `text/event-stream` (gzip keeps bytes until its buffer
 * fills), so a few small events never reach the browser. The proxy is TCP only, as most are: WebTransport
 * (QUIC, UDP) cannot reach the app through it.
 *
 * `runNginx` runs any http/stream configuration text (the repository's deployment e2e runs the configs of
 * docs/deploying.md through it).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nginxBinary, nginxStreamModule, requireFor } from './requirements.ts';

export type ProxyMode = 'pass' | 'strip-upgrade' | 'upgrade-then-drop' | 'upgrade-then-silence';

export interface ProxyOptions {
  /** The app's server, e.g. `http://127.0.0.1:8080`. */
  readonly upstream: string;
  readonly mode: ProxyMode;
  /** Make nginx ignore the server's `X-Accel-Buffering: no`: SSE bytes wait in its buffers. */
  readonly buffering?: boolean;
  /** Listen address (default 127.0.0.1) and port (default: a free one). */
  readonly host?: string;
  readonly port?: number;
}

export interface RunningProxy {
  /** What the page loads instead of the app's own URL. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly config: string;
  /** Upgrade requests the stand-in upstream completed (upgrade-then-drop and upgrade-then-silence only). */
  droppedUpgrades(): number;
  close(): Promise<void>;
}

export interface NginxRun {
  /** Text for the `http { }` context: server blocks, maps. */
  readonly http: string;
  /** Text for the `stream { }` context (UDP/TCP forwarding); loads the stream module. */
  readonly stream?: string;
  /** Polled until it answers (any status below 500) to know nginx is up... */
  readonly readyUrl?: string;
  /** ...or this check (e.g. an https request trusting a test certificate). */
  readonly ready?: () => Promise<boolean>;
}

export interface RunningNginx {
  readonly config: string;
  readonly dir: string;
  close(): Promise<void>;
}

export async function freePort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Completes a WebSocket opening handshake (RFC 6455 section 4.2.2, echoing the switchyard subprotocol), then
 * closes the TCP connection right after the 101, or (`silent`) keeps it open and ignores everything after.
 */
async function startUpgradeStandIn(
  silent: boolean,
): Promise<{ port: number; count: () => number; close: () => Promise<void> }> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket: Socket) => {
    let head = '';
    let answered = false;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      if (answered) return;
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      answered = true;
      const key = /^sec-websocket-key:\s*(.+)$/im.exec(head)?.[1]?.trim() ?? '';
      const offered = /^sec-websocket-protocol:\s*(.+)$/im.exec(head)?.[1] ?? '';
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      const protocol = offered.includes('switchyard.v1') ? 'Sec-WebSocket-Protocol: switchyard.v1\r\n' : '';
      count++;
      const response = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${protocol}\r\n`;
      if (silent) socket.write(response);
      else socket.end(response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    count: () => count,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const BUFFERING = `proxy_buffering on;
      proxy_ignore_headers X-Accel-Buffering;
      gzip on;
      gzip_proxied any;
      gzip_min_length 0;
      gzip_types text/event-stream;`;

function proxyServerBlock(listen: string, options: ProxyOptions, dropPort: number | undefined): string {
  const upstream = new URL(options.upstream);
  const target = `${upstream.protocol}//${upstream.host}`;
  // Host as the browser sent it (with its port): the app's same-origin check sees the proxy's origin.
  const common = `
      proxy_pass ${target};
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      ${options.buffering ? BUFFERING : ''}`;
  const upgrade =
    options.mode === 'pass'
      ? `
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $switchyard_connection;`
      : `
      # No Upgrade/Connection forwarding; clear Connection so keep-alive works, like a typical API proxy.
      proxy_set_header Connection "";`;
  // Set for the modes whose WebSocket upgrade goes to the stand-in upstream.
  const drop =
    dropPort !== undefined
      ? `
    location = /rt/ws {
      proxy_pass http://127.0.0.1:${dropPort};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header Host $http_host;
    }`
      : '';
  return `
  map $http_upgrade $switchyard_connection {
    default upgrade;
    '' close;
  }
  server {
    listen ${listen};
    location / {${common}${upgrade}
    }${drop}
  }`;
}

async function waitReady(ready: () => Promise<boolean>, child: ChildProcess, dir: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
      throw new Error(`nginx exited with ${child.exitCode}: ${log.trim().slice(-2000)}`);
    }
    if (await ready().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('nginx did not answer within 10 s');
}

/** Runs nginx with the given http (and stream) configuration in a temp dir of its own. */
export async function runNginx(run: NginxRun): Promise<RunningNginx> {
  requireFor('an nginx proxy', run.stream ? ['nginx', 'nginx-stream'] : ['nginx']);
  const bin = nginxBinary()!;
  const streamModule = run.stream ? nginxStreamModule() : null;
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-nginx-'));
  const config = `${streamModule ? `load_module ${streamModule};\n` : ''}worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
daemon off;
events { worker_connections 1024; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${run.http}
}
${run.stream ? `stream {\n${run.stream}\n}\n` : ''}`;
  const confPath = join(dir, 'nginx.conf');
  await writeFile(confPath, config);
  const child = spawn(bin, ['-p', dir, '-c', confPath, '-e', join(dir, 'error.log')], { stdio: 'ignore' });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
  };
  try {
    const url = run.readyUrl;
    const ready =
      run.ready ?? (() => fetch(url!, { signal: AbortSignal.timeout(1000) }).then((r) => r.status < 500));
    await waitReady(ready, child, dir);
  } catch (error) {
    await stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    config,
    dir,
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Starts an nginx proxy in front of `upstream`; `close()` stops it and removes its files. */
export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  const host = options.host ?? '127.0.0.1';
  const drop =
    options.mode === 'upgrade-then-drop' || options.mode === 'upgrade-then-silence'
      ? await startUpgradeStandIn(options.mode === 'upgrade-then-silence')
      : undefined;
  // A port freed a moment ago may be taken by someone else in between: retry with another one.
  for (let attempt = 0; ; attempt++) {
    const port = options.port ?? (await freePort(host));
    const listen = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const url = `http://${listen}`;
    let nginx: RunningNginx;
    try {
      nginx = await runNginx({
        http: proxyServerBlock(listen, options, drop?.port),
        readyUrl: `${url}/`,
      });
    } catch (error) {
      if (attempt < 3 && options.port === undefined && /Address already in use/.test(String(error))) continue;
      await drop?.close();
      throw error;
    }
    return {
      url,
      host,
      port,
      config: nginx.config,
      droppedUpgrades: () => drop?.count() ?? 0,
      async close() {
        await nginx.close();
        await drop?.close();
      },
    };
  }
}
