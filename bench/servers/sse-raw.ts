/**
 * Baseline for the SSE rung: a hand-written SSE server on node:http, what a competent user writes without a
 * library. Events carry an `id` (so EventSource could resume) and the payload as one `data:` line.
 *   GET  /sse/push?size=N   streams N-byte events as fast as the socket drains
 *   GET  /sse/stream?id=K   an idle stream, fed by POST /sse/send/K (the body becomes one event; 204)
 */
import { createServer, type ServerResponse } from 'node:http';
import { serveControl } from './control.ts';

const streams = new Map<string, { res: ServerResponse; seq: number }>();
const HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform' };

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.method === 'GET' && url.pathname === '/sse/push') {
    const payload = 'x'.repeat(Number(url.searchParams.get('size') ?? 64));
    res.writeHead(200, HEADERS);
    res.write(': ok\n\n');
    let seq = 0;
    // After 'drain', continue on setImmediate: a socket that drains synchronously emits 'drain' from
    // process.nextTick, and refilling right there would starve every other connection of the event loop.
    const pump = () => {
      while (!res.destroyed) {
        if (!res.write(`id: ${++seq}\ndata: ${payload}\n\n`)) {
          res.once('drain', () => setImmediate(pump));
          return;
        }
      }
    };
    pump();
    return;
  }
  if (req.method === 'GET' && url.pathname === '/sse/stream') {
    const id = url.searchParams.get('id') ?? '';
    res.writeHead(200, HEADERS);
    res.write(': ok\n\n');
    streams.set(id, { res, seq: 0 });
    req.on('close', () => streams.delete(id));
    return;
  }
  if (req.method === 'POST' && url.pathname.startsWith('/sse/send/')) {
    const stream = streams.get(url.pathname.slice('/sse/send/'.length));
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (!stream) {
        res.writeHead(404).end();
        return;
      }
      stream.res.write(`id: ${++stream.seq}\ndata: ${Buffer.concat(chunks).toString()}\n\n`);
      res.writeHead(204).end();
    });
    return;
  }
  res.writeHead(404).end();
});

await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
serveControl((server.address() as { port: number }).port);
