import { configDefaults, defineConfig } from 'vitest/config';

/** The unit layer (`npm run test:unit`): deciding modules on in-memory twins and fake clocks; no Redis. */
const UNIT = 'packages/*/test/unit/**/*.test.ts';

export default defineConfig({
  // Workspace packages are tested from src/ (their `source` export condition), never a stale dist/.
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    globals: false,
    // Two cores: end-to-end files each start Redis-backed clusters; run them one or two at a time.
    maxWorkers: 2,
    minWorkers: 1,
    // `vitest run` runs both projects, every file once; `vitest run --project unit` only the first.
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [UNIT],
          testTimeout: 5_000,
          // No processes to fork in this layer: worker threads start faster than child processes.
          pool: 'threads',
          // Files share their worker's module cache (shared's entry point is loaded once, not per file):
          // 5 s instead of 10. So a unit test leaves nothing behind: real timers back after each test,
          // no module mocks (vi.mock), no stubbed globals.
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: [
            'test/**/*.test.ts',
            'packages/*/test/**/*.test.ts',
            'example/test/**/*.test.ts',
            'bench/test/**/*.test.ts',
          ],
          exclude: [...configDefaults.exclude, UNIT],
          // One redis-server for the run (unless REDIS_URL is set); tests isolate themselves by key prefix.
          globalSetup: ['./test/support/redis-global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
