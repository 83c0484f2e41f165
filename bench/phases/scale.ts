/**
 * The scale-out phase of `npm run bench`: runs bench/scale.ts (its own private redis-server, node processes,
 * ratios in one run) as a child process and keeps the markdown tables it prints. A child, because it starts
 * and kills servers of its own and needs `--expose-gc`.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export async function runScale(quick: boolean, progress: (line: string) => void): Promise<string> {
  progress(`[scale] fan-out, Redis round trips, 1 vs 2 nodes${quick ? ' (quick sizes)' : ''}...`);
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/scale.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...(quick ? { SUBSCRIBERS: '200', IDLE: '50' } : {}) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    out += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`bench/scale.ts exited with ${code}`);
  const start = out.indexOf('# scale benchmarks');
  if (start < 0) throw new Error('bench/scale.ts printed no tables');
  progress('[scale] done');
  return out.slice(start).trim();
}
