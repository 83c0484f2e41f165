/**
 * A raw protocol client over a real `ws` WebSocket, for the cross-node guarantee tests: nothing client-side
 * retries, filters or re-subscribes, so what a test sees is exactly what a node sent (welcome or refusal,
 * `reset`, `msg`, the close code).
 */
import { WebSocket } from 'ws';

export interface RawEnvelope {
  readonly type: string;
  readonly code?: string;
  readonly message?: string;
  readonly session?: string;
  readonly resumed?: boolean;
  readonly topic?: string;
  readonly seq?: number;
  readonly reason?: string;
  readonly epoch?: string;
  readonly data?: unknown;
}

export interface RawClient {
  readonly ws: WebSocket;
  readonly inbox: RawEnvelope[];
  /** Resolves with the close code. */
  readonly closed: Promise<number>;
  send(envelope: object): void;
  /** The first welcome or error (the hello's answer). */
  answer(): Promise<RawEnvelope>;
  waitFor(what: string, predicate: (inbox: RawEnvelope[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): void;
}

/** Opens `/rt/ws` on `url` and sends hello with `token` and `session` when given. */
export async function rawClient(
  url: string,
  hello: { readonly token?: string; readonly session?: string } = {},
): Promise<RawClient> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/rt/ws`, 'switchyard.v1');
  const inbox: RawEnvelope[] = [];
  // The WebSocket rung frames text as `<channel>:<envelope>`; the default channel is the empty name.
  ws.on('message', (data) => {
    const text = String(data);
    inbox.push(JSON.parse(text.slice(text.indexOf(':') + 1)) as RawEnvelope);
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const send = (envelope: object) => ws.send(`:${JSON.stringify(envelope)}`);
  send({ type: 'hello', v: 1, ...hello });
  const waitFor: RawClient['waitFor'] = async (what, predicate, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(inbox)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(inbox)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return {
    ws,
    inbox,
    closed,
    send,
    async answer() {
      await waitFor('welcome or error', (m) => m.some((e) => e.type === 'welcome' || e.type === 'error'));
      return inbox.find((e) => e.type === 'welcome' || e.type === 'error') as RawEnvelope;
    },
    waitFor,
    close: () => ws.terminate(),
  };
}

/** A fresh token from `url`'s `POST /rt/token` (no Origin: a same-origin request as far as the node knows). */
export async function fetchToken(url: string): Promise<string> {
  const response = await fetch(`${url}/rt/token`, { method: 'POST' });
  if (!response.ok) throw new Error(`POST /rt/token: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}
