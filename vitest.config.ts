import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'transports/**/*.test.ts', 'server/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'e2e/**'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Two shared cores: running files in parallel makes timing-sensitive network tests flaky.
    fileParallelism: false,
  },
});
