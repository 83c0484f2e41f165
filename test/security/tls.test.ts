/** The server with a real certificate configured by path: https for negotiate and SSE, wss for WebSocket. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { generateDevCertificate } from '../../server/certs.ts';
import { type RunningServer, startNodeServer, tlsFromEnv } from '../../server/node.ts';
import { parseNegotiateResponse } from '../../src/negotiate.ts';

let server: RunningServer | undefined;
const dir = mkdtempSync(join(tmpdir(), 'switchyard-tls-'));
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('serves https and wss with a certificate and key read from TLS_CERT / TLS_KEY', async () => {
  // A throwaway certificate, written to a temp dir (never to the repo) as a real deployment's would be.
  const generated = await generateDevCertificate({ hosts: ['127.0.0.1'] });
  writeFileSync(join(dir, 'cert.pem'), generated.cert);
  writeFileSync(join(dir, 'key.pem'), generated.key, { mode: 0o600 });
  const tls = tlsFromEnv({ TLS_CERT: join(dir, 'cert.pem'), TLS_KEY: join(dir, 'key.pem') });
  expect(tls).toBeDefined();
  server = await startNodeServer({
    onConnection: (c) => c.on('message', (m) => c.send(m.data).catch(() => {})),
    ...(tls ? { tls } : {}),
  });
  expect(server.url.startsWith('https://')).toBe(true);
  const ws = new WebSocket(`${server.url.replace('https', 'wss')}/rt/ws`, { ca: generated.cert });
  const echoed = await new Promise<string>((resolve, reject) => {
    ws.on('open', () => ws.send(':over tls'));
    ws.on('message', (data) => resolve(data.toString()));
    ws.on('error', reject);
  });
  expect(echoed).toBe(':over tls');
  ws.close();
  // And the negotiate document's WebSocket URL, resolved against where it was fetched, is wss://.
  const negotiate = await new Promise<string>((resolve, reject) => {
    import('node:https').then(({ get }) =>
      get(`${server!.url}/rt/negotiate`, { ca: generated.cert }, (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve(body));
      }).on('error', reject),
    );
  });
  expect(
    parseNegotiateResponse(JSON.parse(negotiate), `${server.url}/rt/negotiate`).transports,
  ).toContainEqual({
    kind: 'websocket',
    url: `${server.url.replace('https', 'wss')}/rt/ws`,
  });
});
