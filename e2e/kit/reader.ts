/**
 * The `switchyard` fixture: reads what `probe(client)` recorded in the page (./probe.ts) and turns it into
 * assertions an app's test states in one line: which rung the page landed on, and that no message was lost
 * or doubled on a topic (sequence numbers contiguous, no reset, every publish acknowledged).
 */
import { expect, type Page } from '@playwright/test';
import { PROBES_GLOBAL, type ProbeSnapshot } from './probe.ts';
import { sequenceProblems } from './sequence.ts';

export type Rung = 'webtransport' | 'websocket' | 'sse';

export interface WaitOptions {
  /** Probe name given to `probe(client, name)`; default `default`. */
  readonly probe?: string;
  readonly timeout?: number;
}

export interface NoLossOptions extends WaitOptions {
  /** Exactly this many distinct messages must have arrived on the topic. */
  readonly count?: number;
  /** The first sequence number expected (default: whatever arrived first). */
  readonly from?: number;
}

export class SwitchyardReader {
  readonly #page: Page;

  constructor(page: Page) {
    this.#page = page;
  }

  /** Everything the probe recorded so far. Fails if the page never attached `probe(client)`. */
  async snapshot(probe = 'default'): Promise<ProbeSnapshot> {
    const snapshot = await this.#page.evaluate(
      ({ global, name }) => {
        const registry = (globalThis as Record<string, unknown>)[global] as
          | Record<string, () => unknown>
          | undefined;
        return registry?.[name]?.() ?? null;
      },
      { global: PROBES_GLOBAL, name: probe },
    );
    if (snapshot === null) {
      throw new Error(
        `switchyard/playwright: no probe named "${probe}" in the page; call probe(client) from 'switchyard/playwright/probe' right after createClient in the app's test build`,
      );
    }
    return snapshot as ProbeSnapshot;
  }

  /** The rung in use now (null while not connected). */
  async rung(probe?: string): Promise<Rung | null> {
    return (await this.snapshot(probe)).rung as Rung | null;
  }

  /** Waits until the page is connected on `rung`; on timeout, the message lists every attempt it made. */
  async waitForRung(rung: Rung, options: WaitOptions = {}): Promise<ProbeSnapshot> {
    let last: ProbeSnapshot | undefined;
    try {
      await expect
        .poll(
          async () => {
            last = await this.snapshot(options.probe);
            return `${last.state}/${last.rung}`;
          },
          { timeout: options.timeout ?? 20_000 },
        )
        .toBe(`connected/${rung}`);
    } catch (error) {
      const attempts =
        last?.attempts.map((a) => `${a.kind}:${a.ok ? 'ok' : `failed (${a.error ?? '?'})`}`) ?? [];
      throw new Error(
        `expected the page to be connected over ${rung}; it is ${last?.state ?? '?'}/${last?.rung ?? 'none'} after attempts [${attempts.join(', ')}]`,
        { cause: error },
      );
    }
    return last!;
  }

  /**
   * Waits until the page is connected (on `options.rung` when given) and asserts it first got there within
   * `ms` of navigation start (page load included): the fall-back must be fast, not only work. Returns the time.
   */
  async expectConnectedWithin(ms: number, options: WaitOptions & { rung?: Rung } = {}): Promise<number> {
    const snapshot = options.rung
      ? await this.waitForRung(options.rung, options)
      : await this.waitForState('connected', options);
    const at = snapshot.connectedAtMs ?? Number.NaN;
    if (!(at <= ms)) {
      const attempts = snapshot.attempts.map(
        (a) => `${a.kind}:${a.ok ? 'ok' : `failed (${a.error ?? '?'})`} after ${a.elapsedMs} ms`,
      );
      throw new Error(
        `expected the page to be connected within ${ms} ms of navigation start; it took ${at} ms, attempts [${attempts.join(', ')}]`,
      );
    }
    return at;
  }

  /** Waits for a client state ('connected', 'reconnecting', ...). */
  async waitForState(state: string, options: WaitOptions = {}): Promise<ProbeSnapshot> {
    let last: ProbeSnapshot | undefined;
    await expect
      .poll(
        async () => {
          last = await this.snapshot(options.probe);
          return last.state;
        },
        { timeout: options.timeout ?? 20_000 },
      )
      .toBe(state);
    return last!;
  }

  /** The data of the reliable messages received on `topic`, in arrival order. */
  async messages(topic: string, probe?: string): Promise<unknown[]> {
    return ((await this.snapshot(probe)).messages[topic] ?? []).map((m) => m.data);
  }

  /**
   * Asserts that nothing was lost or doubled on `topic`: sequence numbers contiguous and each once, no reset
   * reported (a gap history could not fill), every publish acknowledged (`pending` 0), and with `count`,
   * exactly that many messages. Waits (up to `timeout`) for in-flight messages and acks to settle.
   */
  async expectNoLoss(topic: string, options: NoLossOptions = {}): Promise<ProbeSnapshot> {
    let last: ProbeSnapshot | undefined;
    const verdict = (s: ProbeSnapshot): string[] => {
      const seqs = (s.messages[topic] ?? []).map((m) => m.seq);
      const problems = sequenceProblems(seqs, options.from);
      const distinct = new Set(seqs).size;
      if (options.count !== undefined && distinct !== options.count) {
        problems.push(`${distinct} messages arrived, expected ${options.count}`);
      }
      for (const reset of s.resets.filter((r) => r.topic === topic)) {
        problems.push(`reset at #${reset.seq} (${reset.reason})`);
      }
      if (s.pending > 0) problems.push(`${s.pending} publishes not acknowledged`);
      return problems;
    };
    try {
      await expect
        .poll(
          async () => {
            last = await this.snapshot(options.probe);
            return verdict(last);
          },
          { timeout: options.timeout ?? 10_000 },
        )
        .toEqual([]);
    } catch (error) {
      throw new Error(`messages were lost or doubled on "${topic}": ${verdict(last!).join('; ')}`, {
        cause: error,
      });
    }
    return last!;
  }
}
