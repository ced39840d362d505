import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Workspace packages are tested from src/ (their `source` export condition), never a stale dist/.
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    globals: false,
    include: [
      'test/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'example/test/**/*.test.ts',
      'bench/test/**/*.test.ts',
    ],
    globalSetup: ['./test/support/redis-global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The suite kills and freezes real processes on a shared 2-core machine, where a run now and then
    // misses a timing it cannot control. A failed test runs once more; its first failure stays in the
    // output (and in the closing notes, when a product cause is suspected).
    retry: 1,
    // Two cores: end-to-end files each start Redis-backed clusters; run them one or two at a time.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
