/**
 * A real reverse proxy (Debian's nginx) in front of a switchyard server, started as a child process with a
 * generated config in a temp dir, to reproduce the two proxy failures the client's ladder exists for:
 *
 * - `strip-upgrade`: a plain HTTP/1.1 `proxy_pass` that does not forward `Upgrade`/`Connection` (the most
 *   common misconfiguration). The WebSocket handshake reaches the server as a plain GET and gets 426;
 *   SSE and POST pass. Response buffering stays ON (nginx's default): SSE flows only because the server
 *   sends `X-Accel-Buffering: no`; `ignoreAccelBuffering` removes that escape hatch (a buffering proxy).
 * - `upgrade-then-drop`: the upgrade is forwarded, but to an upstream that completes the WebSocket handshake
 *   (a valid 101) and then closes, like a middlebox that accepts WebSockets and kills them. The browser sees
 *   `open`, then a close before the first application message.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NGINX_BIN = process.env.NGINX_PATH ?? '/usr/sbin/nginx';

export type ProxyMode = 'strip-upgrade' | 'upgrade-then-drop';

export interface NginxOptions {
  readonly upstreamPort: number;
  readonly mode: ProxyMode;
  /** Makes nginx ignore the server's `X-Accel-Buffering: no` (a proxy that buffers SSE). */
  readonly ignoreAccelBuffering?: boolean;
}

export interface RunningNginx {
  readonly url: string;
  readonly port: number;
  /** Upgrade requests the drop-after-handshake upstream completed (upgrade-then-drop only). */
  readonly droppedUpgrades: () => number;
  readonly config: string;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Completes a WebSocket opening handshake (RFC 6455 section 4.2.2, echoing the switchyard subprotocol) and
 * closes the TCP connection right after the 101.
 */
async function startHandshakeThenClose(): Promise<{ server: Server; port: number; count: () => number }> {
  let count = 0;
  const server = createServer((socket: Socket) => {
    let head = '';
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const key = /^sec-websocket-key:\s*(.+)$/im.exec(head)?.[1]?.trim() ?? '';
      const offered = /^sec-websocket-protocol:\s*(.+)$/im.exec(head)?.[1] ?? '';
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      const protocol = offered.includes('switchyard.v1') ? 'Sec-WebSocket-Protocol: switchyard.v1\r\n' : '';
      count++;
      socket.end(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${protocol}\r\n`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0, count: () => count };
}

function renderConfig(
  dir: string,
  port: number,
  options: NginxOptions,
  dropPort: number | undefined,
): string {
  const upstream = `http://127.0.0.1:${options.upstreamPort}`;
  const common = `
      proxy_pass ${upstream};
      proxy_http_version 1.1;
      # No Upgrade/Connection forwarding: nginx sends "Connection: close" upstream by default; clear it
      # so keep-alive works, exactly like a typical API proxy block.
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      # Buffering stays at nginx's default (on): only X-Accel-Buffering: no from the server turns it off.
      ${options.ignoreAccelBuffering ? 'proxy_ignore_headers X-Accel-Buffering;' : ''}`;
  const wsLocation =
    options.mode === 'upgrade-then-drop'
      ? `
    location = /rt/ws {
      proxy_pass http://127.0.0.1:${dropPort};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header Host $http_host;
    }`
      : '';
  return `worker_processes 1;
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
  server {
    listen 127.0.0.1:${port};
    location / {${common}
    }${wsLocation}
  }
}
`;
}

async function waitListening(port: number, child: ChildProcess, dir: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
      throw new Error(`nginx exited with ${child.exitCode}: ${log}`);
    }
    const ok = await fetch(`http://127.0.0.1:${port}/rt/negotiate`).then(
      (r) => r.status < 500,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('nginx did not start listening within 10 s');
}

/** A running nginx with a generated config in its own temp dir. */
export interface LaunchedNginx {
  readonly url: string;
  readonly port: number;
  readonly config: string;
  close(): Promise<void>;
}

/**
 * Runs nginx with the config `render(dir, port)` makes for a free loopback port (retried on another port if that
 * one was taken meanwhile); `close()` stops it and removes its dir. Shared by the proxy modes here and the load
 * balancer of test/scale.
 */
export async function launchNginx(render: (dir: string, port: number) => string): Promise<LaunchedNginx> {
  if (!existsSync(NGINX_BIN)) {
    throw new Error(
      `this test needs nginx at ${NGINX_BIN} (CI installs nginx-light; apt-get install nginx-light)`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), `sy-nginx-${process.pid}-`));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const config = render(dir, port);
    const confPath = join(dir, 'nginx.conf');
    await writeFile(confPath, config);
    const child = spawn(NGINX_BIN, ['-p', dir, '-c', confPath, '-e', join(dir, 'error.log')], {
      stdio: 'ignore',
    });
    try {
      await waitListening(port, child, dir);
    } catch (error) {
      child.kill('SIGKILL');
      if (attempt < 3) continue;
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    return {
      url: `http://127.0.0.1:${port}`,
      port,
      config,
      async close() {
        if (child.exitCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(timer);
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}

/** Starts nginx on a free loopback port in front of `upstreamPort`; `close()` stops it and removes its dir. */
export async function startNginx(options: NginxOptions): Promise<RunningNginx> {
  const drop = options.mode === 'upgrade-then-drop' ? await startHandshakeThenClose() : undefined;
  let nginx: LaunchedNginx;
  try {
    nginx = await launchNginx((dir, port) => renderConfig(dir, port, options, drop?.port));
  } catch (error) {
    drop?.server.close();
    throw error;
  }
  return {
    ...nginx,
    droppedUpgrades: () => drop?.count() ?? 0,
    async close() {
      await nginx.close();
      if (drop) await new Promise<void>((resolve) => drop.server.close(() => resolve()));
    },
  };
}
