/**
 * The head-of-line panel's server side and numbers: the metrics the lab and the panel share (on hand-made
 * runs whose answers are known), and the chart route (only the published charts, nothing else on disk).
 */
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { holMetrics, longestGaps, percentile } from './hol-metrics.ts';
import { HOL_CHART_FILES, mountHolRoutes } from './hol-routes.ts';
import { DEFAULT_WORKLOAD, type HolRunResult, type HolSample } from './hol-workload.ts';

function run(samples: HolSample[], sent: number[], bulkBytes = 0): HolRunResult {
  return {
    scenario: 'test',
    rung: 'websocket',
    rungs: ['websocket'],
    workload: { ...DEFAULT_WORKLOAD, channels: 2, warmupMs: 0, durationMs: 1000, intervalMs: 100 },
    sent,
    samples,
    superseded: 0,
    bulk: { bytes: bulkBytes, ms: 1000, chunks: bulkBytes > 0 ? 1 : 0 },
    stats: { volatileSent: 0, volatileDropped: 0, volatileReceived: 0 },
    incidents: [],
    failedPublishes: 0,
    pageStalls: [],
  };
}

describe('head-of-line metrics', () => {
  it('percentiles by nearest rank', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile(sorted, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(Number.isNaN(percentile([], 50))).toBe(true);
  });

  it('the stall is the longest wait for a fresh update, up to the end of sending for a channel gone quiet', () => {
    // Channel 0: arrivals at 50, 150, 650 (a 500 ms stall), 950. Channel 1: one arrival at 60, then nothing.
    const samples: HolSample[] = [
      [0, 0, 0, 50],
      [1, 0, 10, 60],
      [0, 1, 100, 150],
      [0, 2, 200, 650],
      [0, 3, 900, 950],
    ];
    expect(longestGaps(run(samples, [10, 10]))).toEqual([500, 940]);
  });

  it('latency, delivered share and goodput of one run', () => {
    const samples: HolSample[] = [
      [0, 0, 0, 40],
      [0, 1, 100, 140],
      [1, 0, 50, 90],
      [1, 1, 150, 400],
    ];
    const m = holMetrics(run(samples, [2, 4], 125_000));
    expect(m.p50).toBe(40);
    expect(m.max).toBe(250);
    expect(m.delivered).toBe(4 / 6);
    expect(m.bulkMbps).toBe(1);
    // One of four messages took over 1.5x the median (250 > 60): held up.
    expect(m.lateShare).toBe(0.25);
  });
});

describe('chart route', () => {
  const app = new Hono();
  mountHolRoutes(app);

  it('serves only the published charts, as SVG or a plain 404 when not generated', async () => {
    for (const file of HOL_CHART_FILES) {
      const response = await app.request(`/hol/charts/${file}`);
      expect([200, 404]).toContain(response.status);
      if (response.status === 200) {
        expect(response.headers.get('content-type')).toContain('image/svg+xml');
        expect(await response.text()).toContain('<svg');
      }
    }
  });

  it('refuses anything else with 404 ERR_NOT_FOUND (no path traversal)', async () => {
    for (const path of ['/hol/charts/runs.json', '/hol/charts/..%2F..%2Fpackage.json', '/hol/charts/x.svg']) {
      const response = await app.request(path);
      expect(response.status).toBe(404);
      expect(((await response.json()) as { error: string }).error).toBe('ERR_NOT_FOUND');
    }
  });
});
