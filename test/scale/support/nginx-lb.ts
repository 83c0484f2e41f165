/**
 * nginx as the load balancer in front of several nodes, with no affinity: round robin per request (every
 * SSE POST may land on another node than its event stream), WebSocket upgrades forwarded, SSE unbuffered. The
 * same configuration as the README's "two nodes behind nginx". Needs Debian's nginx (CI installs nginx-light);
 * fails with a clear message without it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NGINX_BIN } from '../../../e2e/support/nginx.ts';
import { freePort } from './redis.ts';

export interface Balancer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export function clusterNginxConfig(dir: string, port: number, upstreamPorts: readonly number[]): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream switchyard {
${upstreamPorts.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join('\n')}
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://switchyard;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 1h;
      proxy_connect_timeout 1s;
    }
  }
}
`;
}

export async function startNginxBalancer(upstreamPorts: readonly number[]): Promise<Balancer> {
  if (!existsSync(NGINX_BIN)) {
    throw new Error(
      `this test needs nginx at ${NGINX_BIN} (CI installs nginx-light; apt-get install nginx-light)`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), `sy-nginx-lb-${process.pid}-`));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const confPath = join(dir, 'nginx.conf');
    await writeFile(confPath, clusterNginxConfig(dir, port, upstreamPorts));
    const child: ChildProcess = spawn(NGINX_BIN, ['-p', dir, '-c', confPath, '-e', join(dir, 'error.log')], {
      stdio: 'ignore',
    });
    const deadline = Date.now() + 10_000;
    let up = false;
    while (!up && Date.now() < deadline && child.exitCode === null) {
      up = await fetch(`http://127.0.0.1:${port}/rt/negotiate`).then(
        (r) => r.ok,
        () => false,
      );
      if (!up) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    if (!up) {
      child.kill('SIGKILL');
      if (attempt < 3) continue;
      const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`nginx balancer did not start: ${log}`);
    }
    return {
      url: `http://127.0.0.1:${port}`,
      port,
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
