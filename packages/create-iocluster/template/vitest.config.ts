import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The tests start a redis-server and a whole cluster: allow them time on a slow machine.
  test: { testTimeout: 30_000, hookTimeout: 60_000 },
});
