/**
 * Behind a proxy, against a real server: the same-origin check and per-IP limits judge the browser, not the
 * proxy, only when the deployment says how (publicUrl, trustProxy); forwarding headers from anyone else are
 * ignored; hostile `Host` and `Forwarded` values are refused or ignored and never reflected or trusted; a
 * typo in the settings stops the server at start-up. The browser proof through real proxies is
 * e2e/deploy.spec.ts; the parsers' units are server/security/proxy-settings.test.ts.
 */
import { execFile, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type DenoServer, launchDenoServer } from '../../server/deno/launch.ts';
import { MemoryHub } from '../../server/hub/memory.ts';
import { type NodeServerOptions, type RunningServer, startNodeServer } from '../../server/node.ts';
import { createProtocol } from '../../server/protocol/index.ts';
import { createSecurity, type SecurityOptions } from '../../server/security/index.ts';
import { isSwitchyardError } from '../../src/errors.ts';

const PUBLIC = 'https://app.example';
const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

let server: RunningServer | undefined;
let deno: DenoServer | undefined;
afterEach(async () => {
  await server?.close();
  await deno?.close();
  server = undefined;
  deno = undefined;
});

async function start(
  security: SecurityOptions = {},
  extra: Partial<NodeServerOptions> = {},
): Promise<string> {
  const sec = createSecurity(security);
  const protocol = createProtocol({ hub: new MemoryHub(), authenticate: sec.authenticateHello });
  server = await startNodeServer({ onConnection: protocol.onConnection, security: sec, ...extra });
  return server.url;
}

/** A WebSocket upgrade with the given headers: 101, or the refusal's status and body. */
function upgrade(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/rt/ws`, { headers });
    ws.on('upgrade', () => {
      resolve({ status: 101, body: '' });
      ws.close();
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('error', () => {});
  });
}

/** A raw HTTP/1.1 request, so that Host can be anything. */
function raw(port: number, host: string, path = '/rt/negotiate'): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
    );
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk.toString();
    });
    socket.on('end', () => resolve(data));
    socket.on('error', (error) => resolve(`error ${error.message}`));
  });
}

// What a stock nginx sends: Host is the upstream's address; the browser's Origin is the public one.
const fromPage = { origin: PUBLIC };

describe('same-origin behind a proxy that rewrites Host', () => {
  it('is refused by default, with the fix named and the upstream address not', async () => {
    const url = await start();
    expect((await upgrade(url, fromPage)).status).toBe(403);
    // The body of a refused upgrade does not survive @hono/node-server's upgrade path; the SSE GET shows it.
    const refused = await fetch(`${url}/rt/sse`, { headers: fromPage });
    expect(refused.status).toBe(403);
    const body = await refused.text();
    expect(JSON.parse(body)).toMatchObject({ error: 'ERR_FORBIDDEN_ORIGIN' });
    expect(body).toMatch(/set publicUrl or trustProxy/);
    expect(body).not.toContain('127.0.0.1');
    const token = await fetch(`${url}/rt/token`, { method: 'POST', headers: fromPage });
    expect(token.status).toBe(403);
    expect(await token.text()).toMatch(/set publicUrl or trustProxy/);
  });

  it('is allowed with publicUrl, and the token it issues is bound to that origin', async () => {
    const url = await start({ requireTokens: true }, { publicUrl: PUBLIC });
    expect((await upgrade(url, fromPage)).status).toBe(101);
    const response = await fetch(`${url}/rt/token`, { method: 'POST', headers: fromPage });
    expect(response.status).toBe(200);
    const { token } = (await response.json()) as { token: string };
    const sse = await fetch(`${url}/rt/sse?token=${encodeURIComponent(token)}`, { headers: fromPage });
    expect(sse.status).toBe(200);
    await sse.body?.cancel();
    expect((await upgrade(url, { origin: 'https://evil.example' })).status).toBe(403);
  });

  it('is allowed through trusted X-Forwarded-* or Forwarded, and only when trusted', async () => {
    const forwardedHeaders = { ...fromPage, 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example' };
    const rfc = { ...fromPage, forwarded: 'for=198.51.100.7;proto=https;host=app.example' };
    let url = await start({}, { trustProxy: 'x-forwarded' });
    expect((await upgrade(url, forwardedHeaders)).status).toBe(101);
    expect((await upgrade(url, rfc)).status).toBe(403); // trusted kind is X-Forwarded-*, not Forwarded
    await server!.close();
    url = await start({}, { trustProxy: 'forwarded' });
    expect((await upgrade(url, rfc)).status).toBe(101);
    await server!.close();
    // Not trusted: the same headers from a client change nothing.
    url = await start();
    expect((await upgrade(url, forwardedHeaders)).status).toBe(403);
    expect((await upgrade(url, rfc)).status).toBe(403);
    await server!.close();
    // Trusted only from another address than ours.
    url = await start({}, { trustProxy: { headers: 'x-forwarded', from: ['10.9.9.9'] } });
    expect((await upgrade(url, forwardedHeaders)).status).toBe(403);
  });

  it('ignores malformed forwarding headers as a whole: never widens who is let in', async () => {
    const url = await start({}, { trustProxy: 'forwarded' });
    for (const forwarded of [
      'for=1.2.3.4;host="app.example', // unterminated quote
      'for=1.2.3.4;proto=https;host=app.example;host=evil.example', // repeated parameter
      'proto=https;host=app.example/inject', // a path in the host
      `proto=https;host=${'a'.repeat(300)}.example`, // a host too long
    ]) {
      expect((await upgrade(url, { ...fromPage, forwarded })).status, forwarded).toBe(403);
    }
  });
});

describe('per-IP limits behind a proxy', () => {
  const limits = { connections: { maxConnectionsPerIp: 1 } };
  const open = (url: string, headers: Record<string, string>) =>
    new Promise<{ status: number; ws?: WebSocket }>((resolve) => {
      const ws = new WebSocket(`${url.replace('http', 'ws')}/rt/ws`, { headers });
      ws.on('open', () => resolve({ status: 101, ws }));
      ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0 }));
      ws.on('error', () => {});
    });

  it('counts each client by its trusted X-Forwarded-For, and the proxy as one client otherwise', async () => {
    let url = await start(limits, { trustProxy: 'x-forwarded' });
    const a = await open(url, { 'x-forwarded-for': '203.0.113.1' });
    const b = await open(url, { 'x-forwarded-for': '6.6.6.6, 203.0.113.2' });
    const again = await open(url, { 'x-forwarded-for': '203.0.113.1' });
    expect([a.status, b.status, again.status]).toEqual([101, 101, 429]);
    for (const c of [a, b, again]) c.ws?.terminate();
    await server!.close();
    url = await start(limits);
    const first = await open(url, { 'x-forwarded-for': '203.0.113.1' });
    const spoofed = await open(url, { 'x-forwarded-for': '203.0.113.2' });
    expect([first.status, spoofed.status]).toEqual([101, 429]);
    first.ws?.terminate();
  });
});

describe('hostile Host headers', () => {
  const hostile = [
    'evil.example/inject?x=1#y',
    'evil.example:99999',
    'evil.example@127.0.0.1',
    `${'a'.repeat(8000)}.evil.example`,
    'a'.repeat(20000),
  ];

  async function expectNotReflected(port: number) {
    for (const host of hostile) {
      const response = await raw(port, host);
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(response)?.[1]);
      // Node answers 400/431; Deno routes the garbled URL to nothing (404) or answers on the real path.
      expect([200, 400, 404, 431], `${host.slice(0, 30)}: ${response.slice(0, 80)}`).toContain(status);
      // Negotiate URLs are relative: nothing from Host reaches the response.
      expect(response, host.slice(0, 30)).not.toContain('evil');
      expect(response).not.toContain('aaaaaaaaaa');
    }
  }

  it('Node: refused (400, 431) or answered without reflecting them', async () => {
    await start();
    await expectNotReflected(server!.port);
  });

  it('Deno: refused or answered without reflecting them', async () => {
    deno = await launchDenoServer({ port: 0, env: { SWITCHYARD_APP: 'echo' } });
    await expectNotReflected(deno.port);
  }, 60_000);
});

describe('settings typos stop the server at start-up', () => {
  it('an origin list with a typo, a bad public URL or trustProxy value throws ERR_INVALID_OPTION', async () => {
    expect(() => createSecurity({ allowedOrigins: ['https://a.example', 'https//b.example'] })).toThrow(
      /https\/\/b\.example.* is not an origin/,
    );
    const onConnection = () => {};
    for (const extra of [{ publicUrl: 'app.example' }, { trustProxy: 'yes' as never }]) {
      const failure = await startNodeServer({ onConnection, ...extra }).then(
        (s) => s.close().then(() => null),
        (error: unknown) => error,
      );
      expect(isSwitchyardError(failure, 'ERR_INVALID_OPTION'), JSON.stringify(extra)).toBe(true);
    }
  });

  it('npm start names the environment variable with the typo and exits', async () => {
    const failure = await run(
      process.execPath,
      ['--conditions=switchyard-source', '--import', 'tsx', 'server/main.ts'],
      {
        cwd: root,
        env: {
          ...process.env,
          ALLOWED_ORIGINS: 'https://a.example,app.example',
          PORT: '0',
          SWITCHYARD_RUNTIME: 'node',
        },
        timeout: 30_000,
      },
    ).then(
      () => 'started',
      (error: { stderr: string; code: number }) => error,
    );
    expect(failure).not.toBe('started');
    expect((failure as { stderr: string }).stderr).toMatch(
      /ERR_INVALID_OPTION|ALLOWED_ORIGINS: allowed origin "app\.example"/,
    );
    expect((failure as { stderr: string }).stderr).toMatch(/ALLOWED_ORIGINS/);
  }, 40_000);
});

describe('npm start reads the deployment settings from the environment', () => {
  for (const runtime of ['node', 'deno']) {
    it(`${runtime} binding: PUBLIC_URL and ALLOWED_ORIGINS are honoured`, async () => {
      const child = spawn(
        process.execPath,
        ['--conditions=switchyard-source', '--import', 'tsx', 'server/main.ts'],
        {
          cwd: root,
          env: {
            ...process.env,
            PORT: '0',
            SWITCHYARD_RUNTIME: runtime,
            PUBLIC_URL: 'https://rt.example/live',
            ALLOWED_ORIGINS: 'https://other.example',
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      try {
        const url = await new Promise<string>((resolve, reject) => {
          child.once('exit', (code) => reject(new Error(`npm start exited with ${code}`)));
          createInterface({ input: child.stdout! }).on('line', (line) => {
            const started = /^switchyard demo on (\S+)/.exec(line)?.[1];
            if (started) resolve(started);
          });
        });
        const negotiate = (await (await fetch(`${url}/rt/negotiate`)).json()) as {
          transports: { kind: string; url: string }[];
          tokenUrl: string;
        };
        expect(negotiate.transports.find((t) => t.kind === 'websocket')?.url).toBe(
          'wss://rt.example/live/rt/ws',
        );
        expect(negotiate.tokenUrl).toBe('https://rt.example/live/rt/token');
        const token = (origin: string) => fetch(`${url}/rt/token`, { method: 'POST', headers: { origin } });
        expect((await token('https://other.example')).status).toBe(200);
        expect((await token('https://rt.example')).status).toBe(200); // the public URL's own origin
        expect((await token('https://evil.example')).status).toBe(403);
      } finally {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    }, 60_000);
  }
});
