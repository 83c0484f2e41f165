/**
 * nginx as the load balancer in front of several nodes, with no affinity: round robin per request (every
 * SSE POST may land on another node than its event stream), WebSocket upgrades forwarded, SSE unbuffered. The
 * same configuration as the README's "two nodes behind nginx". Needs Debian's nginx (CI installs nginx-light);
 * fails with a clear message without it.
 */
import { type LaunchedNginx, launchNginx } from '../../../e2e/support/nginx.ts';

export type Balancer = LaunchedNginx;

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

export function startNginxBalancer(upstreamPorts: readonly number[]): Promise<LaunchedNginx> {
  return launchNginx((dir, port) => clusterNginxConfig(dir, port, upstreamPorts));
}
