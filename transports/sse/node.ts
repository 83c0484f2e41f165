/** Node entry of the SSE client: the same adapter over the `eventsource` package, with headers (Origin) on every request. */
import { EventSource } from 'eventsource';
import type { Transport } from '../../src/transport.ts';
import {
  type EventSourceConstructor,
  type FetchLike,
  SseTransport,
  type SseTransportOptions,
} from './client.ts';

export function createNodeSseTransport(options: SseTransportOptions): Transport {
  const headers = options.headers ?? {};
  const withHeaders: FetchLike = (url, init) =>
    fetch(url, { ...init, headers: { ...headers, ...(init.headers as Record<string, string> | undefined) } });
  class HeaderedEventSource extends EventSource {
    constructor(url: string) {
      super(url, {
        fetch: (input, init) =>
          fetch(input, {
            ...init,
            headers: { ...headers, ...(init?.headers as Record<string, string> | undefined) },
          }),
      });
    }
  }
  return new SseTransport({
    ...options,
    EventSource: options.EventSource ?? (HeaderedEventSource as unknown as EventSourceConstructor),
    fetch: options.fetch ?? withHeaders,
  });
}
