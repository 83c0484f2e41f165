// The chat server for the suite (one per worker, on a free port, with a 1 s heartbeat so that a dead network
// is noticed quickly), and switchyard/playwright's fixtures pointed at it.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test as switchyard } from 'switchyard/playwright';

export { expect } from 'switchyard/playwright';

const root = fileURLToPath(new URL('..', import.meta.url));

export const test = switchyard.extend<object, { chatServer: { url: string } }>({
  chatServer: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright requires the destructuring pattern.
    async ({}, use) => {
      const deno: ChildProcess = spawn(
        `${root}node_modules/.bin/deno`,
        ['run', '--unstable-net', '--allow-net', '--allow-read', '--allow-env', 'server.ts'],
        {
          cwd: root,
          env: { ...process.env, PORT: '0', HEARTBEAT_MS: '1000' },
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      const ready = await new Promise<{ url: string }>((resolve, reject) => {
        deno.once('exit', (code) => reject(new Error(`the chat server exited with ${code}`)));
        createInterface({ input: deno.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
      });
      await use(ready);
      const exited = new Promise((resolve) => deno.once('exit', resolve));
      deno.kill('SIGTERM');
      await exited;
    },
    { scope: 'worker' },
  ],
  switchyardTarget: async ({ chatServer }, use) => use(chatServer.url),
});
