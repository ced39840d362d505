import { createClient, type IoclusterClient } from '@iocluster/client';
import { afterEach, describe, expect, test } from 'vitest';
import registerTestApp from './fixtures/test-app.js';
import { type LoadMember, type LoadReport, startChatLoad } from './support/chat-load.js';
import { type ChildIoNode, type Cluster, setup } from './support/cluster.js';
import { listed, until } from './support/poll.js';

let cluster: Cluster | undefined;
const clients: IoclusterClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await cluster?.cleanup();
  cluster = undefined;
});

const fast = { HEARTBEAT_INTERVAL_MS: '200', HEARTBEAT_TTL_MS: '600' };
const ROOM = 'h:rolling';

/**
 * 2 io-nodes and 2 app-nodes as processes (their real entry points, drained by SIGTERM), a frontend, and
 * 8 `@iocluster/client` clients in one room with history, so a client that moves recovers what it missed.
 */
async function rollingCluster() {
  cluster = await setup({
    childAppNodes: 2,
    appModule: 'test/fixtures/test-app.ts',
    register: registerTestApp,
    childEnv: { ...fast, HISTORY_ROOMS: 'h:*' },
  });
  const c = cluster;
  const frontend = await c.startFrontend({ registryRefreshMs: 100 });
  await c.startChildIoNode(fast);
  await c.startChildIoNode(fast);
  const members: (LoadMember & { client: IoclusterClient })[] = [];
  for (let i = 0; i < 8; i++) {
    const client = createClient({ frontendUrl: frontend.url, backoffMinMs: 50, backoffMaxMs: 200 });
    clients.push(client);
    await new Promise((resolve) => client.on('connected', resolve));
    expect(await client.emitWithAck('join', ROOM)).toEqual([ROOM]);
    members.push({
      client,
      send: (payload) => client.emitWithAck('room only', ROOM, payload),
      onMessage: (handler) => client.on('room', handler),
    });
  }
  // The fewest-connections strategy spreads them over both nodes.
  expect(new Set(members.map((m) => m.client.nodeId)).size).toBe(2);
  return { frontend, members };
}

function report(title: string, r: LoadReport): void {
  console.log(
    `${title}: sent ${r.sent}, delivered ${r.delivered}/${r.expected}, lost ${r.lost}, duplicated ` +
      `${r.duplicated}, ack errors ${JSON.stringify(r.ackErrors)}` +
      (r.lost > 0 ? `, missing (message → members) ${JSON.stringify(r.missing)}` : ''),
  );
}

/** SIGTERM to a child io-node: resolves once it exited (after its drain). */
async function drain(node: ChildIoNode): Promise<void> {
  await node.stop();
  expect(node.process.exitCode).toBe(0);
}

describe('rolling restarts', () => {
  test('drain - SIGTERM to an io-node under load: it leaves the registry, its clients move and recover, and not one message is lost', async () => {
    const { frontend, members } = await rollingCluster();
    const c = cluster!;
    const victim = c.childIoNodes[0]!;
    const moving = members.filter((m) => m.client.nodeId === victim.nodeId);
    const recovered = moving.map(
      (m) => new Promise<boolean>((resolve) => m.client.on('recovered', (r) => resolve(r.recovered))),
    );
    const load = startChatLoad(members, members.slice(0, 4), { intervalMs: 20, maxPerSender: 2_000 });
    await load.acknowledged(40);
    await drain(victim);
    // Gone from the registry at once (a clean exit removes its record), not after its TTL.
    expect((await listed(frontend)).map((n) => n.nodeId)).not.toContain(victim.nodeId);
    expect(await Promise.all(recovered)).toEqual(moving.map(() => true));
    await load.acknowledged(80);
    const result = await load.stop(15_000);
    report('io-node SIGTERM', result);
    for (const m of members) expect(m.client.nodeId).not.toBe(victim.nodeId);
    expect({ lost: result.lost, duplicated: result.duplicated, ackErrors: result.ackErrors }).toEqual({
      lost: 0,
      duplicated: 0,
      ackErrors: {},
    });
  }, 90_000);

  test('rolling - every io-node, then every app-node, SIGTERM and replaced one at a time under load: 0 lost', {
    timeout: 150_000,
  }, async () => {
    const { frontend, members } = await rollingCluster();
    const c = cluster!;
    const load = startChatLoad(members, members.slice(0, 4), { intervalMs: 20, maxPerSender: 3_000 });
    await load.acknowledged(40);
    for (const old of [...c.childIoNodes]) {
      await drain(old);
      const fresh = await c.startChildIoNode(fast);
      await until(
        () => listed(frontend),
        (nodes) => nodes.some((n) => n.nodeId === fresh.nodeId),
        10_000,
      );
      await load.acknowledged(40);
    }
    for (const old of [...c.children]) {
      // An app-node finishes the jobs it holds, takes no new ones, and exits 0.
      await old.stop();
      expect(old.process.exitCode).toBe(0);
      await c.startChildAppNode();
      await load.acknowledged(40);
    }
    const result = await load.stop(15_000);
    report('rolling restart', result);
    expect({ lost: result.lost, ackErrors: result.ackErrors }).toEqual({ lost: 0, ackErrors: {} });
  });
});
