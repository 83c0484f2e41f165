import { defineConfig } from 'vitest/config';

export default defineConfig({
  // In-repo `switchyard/...` imports (docs examples) resolve to the sources: no build needed (see package.json
  // exports). The rest is Vite's default server conditions, so dependencies resolve as usual.
  ssr: { resolve: { conditions: ['switchyard-source', 'module', 'node', 'development|production'] } },
  test: {
    include: ['src/**/*.test.ts', 'transports/**/*.test.ts', 'server/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'e2e/**'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Two shared cores: running files in parallel makes timing-sensitive network tests flaky.
    fileParallelism: false,
  },
});
