/**
 * nginx as the load balancer in front of several nodes, with no affinity: round robin per request (every
 * SSE POST may land on another node than its event stream), WebSocket upgrades forwarded, SSE unbuffered. The
 * same configuration as the README's "two nodes behind nginx", run by e2e/kit/nginx.ts (which fails with a
 * clear message where nginx is missing; CI installs it).
 */
import { freePort, runNginx } from '../../../e2e/kit/nginx.ts';

export interface Balancer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The `http { }` part: the upstream of all nodes and one server block proxying everything to it. */
export function clusterNginxHttp(port: number, upstreamPorts: readonly number[]): string {
  return `  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
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
  }`;
}

export async function startNginxBalancer(upstreamPorts: readonly number[]): Promise<Balancer> {
  const port = await freePort('127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  const nginx = await runNginx({
    http: clusterNginxHttp(port, upstreamPorts),
    readyUrl: `${url}/rt/negotiate`,
  });
  return { url, port, close: () => nginx.close() };
}
