import { afterEach, expect, test } from 'vitest';
import { type Cluster, setup } from './support/cluster.js';

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
  const c = cluster;
  const clients = await Promise.all([c.connect(0), c.connect(1), c.connect(0), c.connect(1)]);
  const perClient = 15;
  // Every handler sleeps 100 ms, so an app-node inside one holds its job for a while.
  const acks = clients.map((socket, k) =>
    Promise.all(Array.from({ length: perClient }, (_, n) => socket.emitWithAck('slow', k * 100 + n, 100))),
  );
  // Kill whichever app-node is first seen inside a handler, i.e. holding a job. (Picking one in advance
  // could wait forever: the other may take every job.)
  const victimId = await Promise.race(
    clients.map(
      (socket) =>
        new Promise<string>((resolve) => socket.once('started', (_n: number, by: string) => resolve(by))),
    ),
  );
  const victim = c.children.find((child) => child.nodeId === victimId)!;
  const survivor = c.children.find((child) => child.nodeId !== victimId)!;
  await victim.kill();
  const results = await Promise.all(acks);
  expect(results).toEqual(clients.map((_, k) => Array.from({ length: perClient }, (_, n) => k * 100 + n)));
  // The survivor is still serving, and it is the only one left.
  expect(await clients[0]!.emitWithAck('who')).toBe(survivor.nodeId);
});
