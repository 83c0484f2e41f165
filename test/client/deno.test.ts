/** The same client code under Deno (platform WebSocket), against the Node server. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startTestServer } from './harness.ts';

describe('client under Deno', () => {
  it('connects, subscribes, publishes and receives over the platform WebSocket', async () => {
    const server = await startTestServer();
    try {
      const script = fileURLToPath(new URL('./deno-client.deno.ts', import.meta.url));
      const output = await new Promise<string>((resolve, reject) =>
        execFile(
          'npx',
          [
            'deno',
            'run',
            '--allow-net',
            '--allow-read',
            '--allow-env',
            '--node-modules-dir=manual',
            script,
            server.url,
          ],
          { cwd: fileURLToPath(new URL('../..', import.meta.url)), timeout: 60_000 },
          (error, stdout, stderr) =>
            error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
        ),
      );
      expect(JSON.parse(output.trim().split('\n').at(-1) ?? '')).toEqual({
        rung: 'websocket',
        message: { topic: 'room', seq: 1, data: { from: 'deno' }, reliable: true },
      });
    } finally {
      await server.close();
    }
  }, 60_000);
});
