/**
 * The event stream of one GET, on whatever runtime serves it: on Node written straight to the
 * `ServerResponse`, elsewhere through Hono's `streamSSE`. Used by the new-session route and by resume alike.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { alreadySent, type EventSink, NodeEventSink, nodeEnv, SSE_HEADERS, WebEventSink } from './sink.ts';

/**
 * Opens the event stream and runs `run` on it; the response ends when `run`'s sink is ended. On Node the
 * events are written straight to the `ServerResponse`; elsewhere through `streamSSE`, with the proxy-proof
 * headers (it sets its own `Cache-Control`, so they are applied after). Nothing here keeps `c` alive.
 */
export function eventStream(c: Context, run: (sink: EventSink) => void): Response {
  const node = nodeEnv(c);
  if (node) {
    const sink = new NodeEventSink(node.outgoing);
    try {
      run(sink);
    } catch (error) {
      console.error(error);
      sink.end();
    }
    return alreadySent();
  }
  const response = streamSSE(
    c,
    (stream) =>
      new Promise<void>((resolve) => {
        run(new WebEventSink(stream, resolve));
      }),
  );
  for (const [k, v] of Object.entries(SSE_HEADERS)) response.headers.set(k, v);
  return response;
}

/** Writes one text and ends the stream (a tombstone or a refused resume). */
export function writeAndEnd(text: string): (sink: EventSink) => void {
  return (sink) => {
    sink.write(text);
    sink.end();
  };
}
