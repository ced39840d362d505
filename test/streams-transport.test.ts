import type { IoclusterClient } from '@iocluster/client';
import { INGRESS_GROUP } from '@iocluster/shared';
import { afterEach, describe, expect, test, vi } from 'vitest';
import registerTestApp from './fixtures/test-app.js';
import { clientFactory } from './support/clients.js';
import { type Cluster, setup } from './support/cluster.js';
import { appNodeKilledHoldingJobs, ioNodeKilledWhilePublishing } from './support/scenarios.js';

/**
 * The failure scenarios of the BullMQ suite (test/failover.test.ts, test/recovery.test.ts) with
 * `INGRESS_TRANSPORT=streams`: every node of the stack reads and writes the ingress as Redis Streams.
 */
let cluster: Cluster | undefined;
const clients: IoclusterClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await cluster?.cleanup();
  cluster = undefined;
});

const client = clientFactory(clients, { backoffMinMs: 50, backoffMaxMs: 200 });
const streams = { INGRESS_TRANSPORT: 'streams' };

/** The ingress went through the stream: its group handed out entries, and no BullMQ ingress queue exists. */
async function wentThroughStreams(c: Cluster): Promise<void> {
  const groupInfo = async () => {
    const groups = (await c.redis.xinfo('GROUPS', `{${c.prefix}}:ingress:stream`)) as unknown[][];
    return groups.map((g) =>
      Object.fromEntries(Array.from({ length: g.length / 2 }, (_, i) => [g[2 * i], g[2 * i + 1]])),
    );
  };
  // Every event was answered; the last acknowledgements (batched, after the commands) follow shortly.
  await vi.waitFor(async () =>
    expect(await groupInfo()).toMatchObject([{ name: INGRESS_GROUP, pending: 0 }]),
  );
  const group = await groupInfo();
  expect(Number(group[0]!['entries-read'])).toBeGreaterThan(0);
  expect(await c.redis.exists(`{${c.prefix}}:ingress:meta`, `{${c.prefix}}:ingress:id`)).toBe(0);
}

describe('streams transport', () => {
  test('streams transport - an app-node killed with SIGKILL while holding entries loses no event', async () => {
    cluster = await setup({
      ioNodes: 2,
      ioNodeOptions: { ingressTransport: 'streams' },
      childAppNodes: 2,
      appModule: 'test/fixtures/test-app.ts',
      // A short lease so the test does not wait the default out; the mechanism is the same.
      childEnv: { ...streams, LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '1000' },
    });
    await appNodeKilledHoldingJobs(cluster, 15);
    await wentThroughStreams(cluster);
  });

  test('streams transport - SIGKILL of the io-node holding 10 clients while others publish: each gets every message once, in order', async () => {
    cluster = await setup({
      appNodes: 1,
      register: registerTestApp,
      appNodeOptions: { ingressTransport: 'streams', history: { rooms: ['h:*'] } },
      ioNodeOptions: { ingressTransport: 'streams', heartbeatIntervalMs: 200, heartbeatTtlMs: 600 },
    });
    const c = cluster;
    const frontend = await c.startFrontend({ registryRefreshMs: 100, ingressTransport: 'streams' });
    const victim = await c.startChildIoNode({
      ...streams,
      HEARTBEAT_INTERVAL_MS: '200',
      HEARTBEAT_TTL_MS: '600',
    });
    const listeners = Array.from({ length: 10 }, () => client({ frontendUrl: frontend.url }));
    const reports = await ioNodeKilledWhilePublishing(c, {
      victim,
      listeners,
      publishers: 3,
      perPublisher: 30,
    });
    expect(reports.reduce((n, report) => n + report.missed, 0)).toBeGreaterThan(0);
    await wentThroughStreams(c);
  });
});
