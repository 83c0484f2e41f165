/**
 * The page half of switchyard/playwright (`switchyard/playwright/probe`): an app's test build attaches
 * `probe(client)` right after `createClient`, and the probe records, from the first event on, what the
 * Playwright half asserts on: states, rungs, attempts, every message's topic and sequence, resets, errors.
 * Recording from the start is what lets a test prove that nothing was lost across a fall-back or a reconnect.
 * Browser-only code, no dependencies: it adds a few hundred bytes to the app's bundle.
 */
import type { Client } from '../../src/client/index.ts';

/** What the Playwright half reads (JSON-safe). */
export interface ProbeSnapshot {
  readonly state: string;
  readonly rung: string | null;
  readonly pending: number;
  readonly states: readonly string[];
  readonly rungs: readonly (string | null)[];
  /**
   * When the client was first connected, in ms since the page's navigation started (`performance.now()`), so
   * the page load counts; null until then. What a user waits for, and what `expectConnectedWithin` checks.
   */
  readonly connectedAtMs: number | null;
  readonly attempts: readonly {
    readonly kind: string;
    readonly ok: boolean;
    readonly purpose: string;
    /** From the attempt's start to its outcome. */
    readonly elapsedMs: number;
    readonly error?: string;
  }[];
  /** Reliable messages (with a sequence number), per topic, in arrival order. */
  readonly messages: Readonly<Record<string, readonly { readonly seq: number; readonly data: unknown }[]>>;
  /** Messages that arrived without a sequence number (unreliable ones), per topic: counted, not checked. */
  readonly unsequenced: Readonly<Record<string, number>>;
  readonly resets: readonly { readonly topic: string; readonly seq: number; readonly reason: string }[];
  readonly errors: readonly { readonly code: string; readonly message: string }[];
}

export const PROBES_GLOBAL = '__switchyardProbes';
/** Per topic, at most this many messages are kept (the rest are counted as a gap, which fails a check). */
const MAX_PER_TOPIC = 50_000;

type Probed<In> = Pick<Client<In>, 'on' | 'state' | 'rung' | 'pending'>;

function jsonSafe(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value ?? null)) as unknown;
  } catch {
    return String(value);
  }
}

/**
 * Records `client` under `name` (default `default`) for the Playwright fixtures; returns the function that
 * stops recording. Attach it before the client connects (right after createClient) to see everything.
 */
export function probe<In>(client: Probed<In>, name = 'default'): () => void {
  const states: string[] = [client.state];
  const rungs: (string | null)[] = [];
  const attempts: ProbeSnapshot['attempts'][number][] = [];
  const messages: Record<string, { seq: number; data: unknown }[]> = {};
  const unsequenced: Record<string, number> = {};
  const resets: ProbeSnapshot['resets'][number][] = [];
  const errors: ProbeSnapshot['errors'][number][] = [];
  const now = () => (globalThis as { performance?: { now(): number } }).performance?.now() ?? Date.now();
  let connectedAtMs: number | null = client.state === 'connected' ? now() : null;
  const offs = [
    client.on('state', (state) => {
      states.push(state);
      if (state === 'connected') connectedAtMs ??= Math.round(now());
    }),
    client.on('rung', (rung) => rungs.push(rung)),
    client.on('attempt', (a) =>
      attempts.push({
        kind: a.kind,
        ok: a.ok,
        purpose: a.purpose,
        elapsedMs: a.elapsedMs,
        ...(a.error ? { error: a.error } : {}),
      }),
    ),
    client.on('message', (m) => {
      const seq = (m as { seq?: number }).seq;
      if (typeof seq !== 'number') {
        unsequenced[m.topic] = (unsequenced[m.topic] ?? 0) + 1;
        return;
      }
      const list = messages[m.topic] ?? [];
      messages[m.topic] = list;
      if (list.length < MAX_PER_TOPIC) list.push({ seq, data: jsonSafe(m.data) });
    }),
    client.on('reset', (r) => resets.push({ topic: r.topic, seq: r.seq, reason: r.reason })),
    client.on('error', (e) => errors.push({ code: e.code, message: e.message })),
  ];
  const snapshot = (): ProbeSnapshot => ({
    state: client.state,
    rung: client.rung,
    pending: client.pending,
    states: [...states],
    rungs: [...rungs],
    connectedAtMs,
    attempts: [...attempts],
    messages: Object.fromEntries(Object.entries(messages).map(([topic, list]) => [topic, [...list]])),
    unsequenced: { ...unsequenced },
    resets: [...resets],
    errors: [...errors],
  });
  const scope = globalThis as Record<string, unknown>;
  const registry = (scope[PROBES_GLOBAL] ?? {}) as Record<string, () => ProbeSnapshot>;
  scope[PROBES_GLOBAL] = registry;
  registry[name] = snapshot;
  return () => {
    for (const off of offs) off();
    delete registry[name];
  };
}
