/**
 * switchyard/playwright's pure parts: the loss check, and the requirement checks that make a fixture fail
 * with the fix when the machine lacks root, nftables or nginx (run as an unprivileged user to prove it).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { missingRequirements } from '../../e2e/kit/requirements.ts';
import { sequenceProblems } from '../../e2e/kit/sequence.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

describe('loss check', () => {
  it('accepts a contiguous sequence, from wherever it starts', () => {
    expect(sequenceProblems([4, 5, 6])).toEqual([]);
    expect(sequenceProblems([])).toEqual([]);
  });

  it('names gaps, duplicates and reordering', () => {
    expect(sequenceProblems([1, 2, 5])).toEqual(['#3..#4 missing']);
    expect(sequenceProblems([1, 2, 2, 3])).toEqual(['#2 arrived twice']);
    expect(sequenceProblems([1, 2, 5, 7])).toEqual(['#3..#4 missing', '#6 missing']);
    expect(sequenceProblems([1, 3, 2])).toEqual(['#2 arrived after #3 (out of order)']);
    expect(sequenceProblems([2, 3], 1)).toEqual(['#1 missing']);
    expect(sequenceProblems([], 1)).toEqual(['nothing arrived (expected from #1)']);
  });
});

describe('requirements', () => {
  it('refuses to block anything without root, saying what is missing and why', async () => {
    const script =
      "import('./e2e/kit/requirements.ts').then((m) => m.requireFor('network.blockQuic()', ['root', 'nft']))";
    const outcome = await run(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', '-e', script],
      { cwd: root, env: { ...process.env, HOME: '/tmp' } },
    ).then(
      () => 'passed',
      (error: { stderr: string }) => error.stderr,
    );
    expect(outcome).toMatch(/KitRequirementError: switchyard\/playwright: network\.blockQuic\(\) needs root/);
    expect(outcome).toMatch(/running as uid 65534/);
    expect(outcome).toMatch(/nftables .*Operation not permitted|nftables .*failed/);
  });

  it('names a missing nginx and how to get it', () => {
    const saved = process.env.NGINX_PATH;
    process.env.NGINX_PATH = '/nonexistent/nginx';
    try {
      expect(missingRequirements(['nginx'])).toEqual([
        'nginx at NGINX_PATH=/nonexistent/nginx (no such file)',
      ]);
    } finally {
      if (saved === undefined) delete process.env.NGINX_PATH;
      else process.env.NGINX_PATH = saved;
    }
    expect(missingRequirements(['nginx'])).toEqual([]);
  });
});
