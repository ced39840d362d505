import { afterEach, test } from 'vitest';
import { type Cluster, setup } from './support/cluster.js';
import { appNodeKilledHoldingJobs } from './support/scenarios.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.cleanup();
  cluster = undefined;
});

test('failover - an app-node killed with SIGKILL while holding jobs loses no event', async () => {
  cluster = await setup({
    ioNodes: 2,
    childAppNodes: 2,
    appModule: 'test/fixtures/test-app.ts',
    // Short locks so the test does not wait the defaults out; the mechanism is the same.
    childEnv: { LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '1000' },
  });
  await appNodeKilledHoldingJobs(cluster, 15);
});
