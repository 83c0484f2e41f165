/**
 * Spawns ./server-child.ts as a real child process and waits for its `{ port }` line; `kill` ends it with
 * a signal (SIGKILL: a crash; SIGTERM: a graceful restart) and resolves once it is gone.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ServerChild {
  readonly port: number;
  readonly url: string;
  readonly process: ChildProcess;
  kill(signal: NodeJS.Signals): Promise<void>;
}

const SCRIPT = new URL('./server-child.ts', import.meta.url).pathname;

/** `script`: another server script that prints the same `{ port }` line (test/scale runs Redis-backed nodes). */
export async function spawnServer(env: Record<string, string> = {}, script = SCRIPT): Promise<ServerChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
    child.once('exit', (code) =>
      reject(new Error(`server child exited with ${code} before listening: ${stderr}`)),
    );
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server child did not listen within 15 s: ${stderr}`));
    }, 15_000);
    lines.once('line', () => clearTimeout(timer));
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    process: child,
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill(signal);
      await exited;
    },
  };
}
