/**
 * Cross-site WebSocket hijacking, and its SSE/POST cousins, in real browsers: a page served from a second
 * origin (another localhost port) tries every rung of the victim server while the victim's session cookie
 * exists. Every attempt must be refused; the same attempts from the victim's own origin succeed, so the test
 * can fail.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSecurity } from '../server/security/index.ts';
import { expect, startDemoServer, test } from './fixtures.ts';

const ATTACK_SCRIPT = (victim: string) => `
  window.results = {};
  const ws = new WebSocket('${victim.replace('http', 'ws')}/rt/ws');
  ws.onopen = () => { window.results.websocket = 'open'; };
  ws.onerror = () => { window.results.websocket = 'refused'; };
  const es = new EventSource('${victim}/rt/sse', { withCredentials: true });
  es.addEventListener('session', () => { window.results.sse = 'session'; });
  es.onerror = () => { window.results.sse = window.results.sse ?? 'refused'; es.close(); };
  fetch('${victim}/rt/token', { method: 'POST', credentials: 'include' })
    .then((r) => r.json()).then((j) => { window.results.token = j.token ? 'issued' : 'refused'; })
    .catch(() => { window.results.token = 'refused'; });
  fetch('${victim}/rt/sse/any', { method: 'POST', credentials: 'include', body: 'x' })
    .then((r) => { window.results.post = 'status ' + r.status; })
    .catch(() => { window.results.post = 'refused'; });
`;

test('a page on another origin cannot open any rung, get a token or post, with the victim cookie present', async ({
  page,
  context,
}) => {
  const logs: string[] = [];
  const security = createSecurity({ requireTokens: false });
  const victim = await startDemoServer({ security, log: (line) => logs.push(line) });
  const attackerServer = http.createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><script>${ATTACK_SCRIPT(victim.url)}</script>`);
  });
  await new Promise<void>((resolve) => attackerServer.listen(0, '127.0.0.1', resolve));
  const attacker = `http://localhost:${(attackerServer.address() as AddressInfo).port}`;
  try {
    await context.addCookies([{ name: 'session', value: 'victim-session', url: victim.url }]);
    await page.goto(`${attacker}/`);
    await expect
      .poll(() => page.evaluate(() => Object.keys((window as unknown as { results: object }).results).length))
      .toBe(4);
    const results = await page.evaluate(
      () => (window as unknown as { results: Record<string, string> }).results,
    );
    expect(results.websocket).toBe('refused');
    expect(results.sse).toBe('refused');
    expect(results.token).toBe('refused');
    expect(victim.server.app.registry.size).toBe(0);
    // What the server did with each attempt (its log shows paths, never tokens).
    expect(logs).toContain('GET /rt/ws 403');
    expect(logs).toContain('GET /rt/sse 403');
    expect(logs).toContain('POST /rt/token 403');
    expect(logs).toContain('POST /rt/sse/any 403');

    // The same script from the victim's own origin works: the refusals above were about the origin.
    await page.goto(`${victim.url}/`);
    await page.evaluate(ATTACK_SCRIPT(victim.url));
    await expect
      .poll(() => page.evaluate(() => (window as unknown as { results: Record<string, string> }).results))
      .toMatchObject({ websocket: 'open', sse: 'session', token: 'issued' });
  } finally {
    attackerServer.close();
    await victim.close();
  }
});
