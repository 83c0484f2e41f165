/**
 * The head-of-line lab, short: the real server and Chromium in network namespaces, 2 % random loss each way
 * and a 40 ms RTT path (bench/hol/), WebSocket vs WebTransport streams vs datagrams, with and without a bulk
 * upload beside the small channels. Asserts the properties the docs teach, never times:
 * - the loss was really applied (nftables counted drops both ways) and every run stayed on its rung;
 * - beside a bulk upload, WebTransport's per-channel p99 (and p50) is at most WebSocket's on the small channels;
 * - datagrams are unreliable: at 2 % loss some are simply lost while every WebSocket message arrives.
 * Without bulk, streams vs WebSocket p99 and datagram latencies are within this shared machine's noise, and
 * beside bulk datagrams currently queue for the congestion window (docs/head-of-line.md): reported, not asserted.
 * Needs root, ip, nft, tc and gcc (CI has them); without them it fails with the reason, it does not skip.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findSummary, type Summary } from '../../bench/hol/analyze.ts';
import { type LabData, readLabData } from '../../bench/hol/data.ts';

const dir = mkdtempSync(join(tmpdir(), 'syhol-ci-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runQuickLab(out: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/hol/run.ts', '--quick', '--out', out], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      process.stdout.write(chunk);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('exit', (code) =>
      code === 0
        ? resolve(output)
        : reject(new Error(`the lab exited with ${code}:\n${output.slice(-3000)}`)),
    );
  });
}

describe('head-of-line lab (quick, 2 % loss)', () => {
  let data: LabData;
  const summary = (variant: string, scenario: string): Summary => {
    const s = findSummary(data.summaries, variant, scenario, 2);
    if (!s) throw new Error(`no ${variant}/${scenario} runs in the lab's data`);
    return s;
  };

  it('runs the real stack across a lossy path, every run on its rung', async () => {
    const out = join(dir, 'runs.json');
    await runQuickLab(out);
    data = readLabData(out);
    expect(data.runs.length).toBe(6);
    for (const run of data.runs) {
      expect(run.result.incidents, `${run.variant}/${run.scenario}`).toEqual([]);
      expect(run.result.samples.length).toBeGreaterThan(0);
      // nftables dropped packets both ways: the loss is real, not configured and forgotten.
      expect(run.counters?.upstream.dropped).toBeGreaterThan(0);
      expect(run.counters?.downstream.dropped).toBeGreaterThan(0);
    }
  }, 300_000);

  it('beside a bulk upload, WebTransport streams: per-channel p99 at most WebSocket’s on the small channels', () => {
    const wt = summary('bulk', 'wt-streams');
    const ws = summary('bulk', 'websocket');
    console.log(
      `[hol] bulk: per-channel p99 WebTransport streams ${wt.channelP99.median.toFixed(0)} ms vs WebSocket ${ws.channelP99.median.toFixed(0)} ms (ratio ${(wt.channelP99.median / ws.channelP99.median).toFixed(2)}, target 0.5)`,
    );
    expect(wt.channelP99.median).toBeLessThanOrEqual(ws.channelP99.median);
    // Half the messages: a stream per channel keeps them out of the bulk's queue altogether.
    expect(wt.p50.median).toBeLessThan(ws.p50.median);
    expect(wt.delivered.median).toBe(1);
  });

  it('datagrams are unreliable: lost ones stay lost while every WebSocket message arrives', () => {
    const quiet = { dg: summary('quiet', 'wt-datagrams'), ws: summary('quiet', 'websocket') };
    const bulk = { dg: summary('bulk', 'wt-datagrams'), ws: summary('bulk', 'websocket') };
    // Reported, not asserted: beside the bulk upload datagrams now wait in the browser's datagram queue for the
    // congestion window (see docs/head-of-line.md), and without bulk this shared machine's page stalls are the
    // size of a TCP recovery.
    console.log(
      `[hol] quiet: p50 datagrams ${quiet.dg.p50.median.toFixed(0)} vs WebSocket ${quiet.ws.p50.median.toFixed(0)} ms, held up ${(quiet.dg.lateShare.median * 100).toFixed(1)} vs ${(quiet.ws.lateShare.median * 100).toFixed(1)} %, delivered ${(quiet.dg.delivered.median * 100).toFixed(1)} %; bulk: p50 ${bulk.dg.p50.median.toFixed(0)} vs ${bulk.ws.p50.median.toFixed(0)} ms`,
    );
    expect(quiet.dg.delivered.median).toBeLessThan(1);
    expect(quiet.ws.delivered.median).toBe(1);
  });
});
