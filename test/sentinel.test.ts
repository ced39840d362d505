import { once } from 'node:events';
import { type RedisSentinelSetup, redisCommand, startRedisSentinel } from '@iocluster/devkit';
import { closeRedis, createRedis } from '@iocluster/shared';
import { io as connectClient, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import registerTestApp from './fixtures/test-app.js';
import { type LoadMember, type LoadReport, startChatLoad } from './support/chat-load.js';
import { type Cluster, setup } from './support/cluster.js';
import { until } from './support/poll.js';

let sentinel: RedisSentinelSetup | undefined;
let cluster: Cluster | undefined;
const sockets: Socket[] = [];

beforeAll(async () => {
  sentinel = await startRedisSentinel({ aof: true });
}, 60_000);
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.disconnect();
  await cluster?.cleanup();
  cluster = undefined;
});
afterAll(async () => {
  await sentinel?.stop();
});

/** A plain socket.io-client member of room `r` on the io-node at `url`. */
async function member(url: string): Promise<LoadMember> {
  const socket = connectClient(url, { transports: ['websocket'], reconnection: false });
  sockets.push(socket);
  await new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(undefined));
    socket.once('connect_error', reject);
  });
  expect(await socket.emitWithAck('join', 'r')).toEqual(['r']);
  return {
    send: (payload) => socket.emitWithAck('room only', 'r', payload),
    onMessage: (handler) => socket.on('room', handler),
  };
}

/**
 * Two io-nodes and two app-nodes on the Sentinel setup, configured with the sentinels only: an in-process
 * pair (`setup({ redis: sentinel.target })`) and a pair of child processes (REDIS_SENTINELS and
 * REDIS_SENTINEL_NAME in their environment); 6 members of one room, 3 on each io-node.
 */
async function sentinelCluster(options: { eventTimeoutMs?: number; waitReplicas?: number } = {}) {
  const s = sentinel!;
  const { eventTimeoutMs = 30_000, waitReplicas = 0 } = options;
  const replicaWait = { replicas: waitReplicas, timeoutMs: 1_000 };
  const env = { EVENT_TIMEOUT_MS: String(eventTimeoutMs), REDIS_WAIT_REPLICAS: String(waitReplicas) };
  cluster = await setup({
    redis: s.target,
    ioNodes: 1,
    appNodes: 1,
    childAppNodes: 1,
    register: registerTestApp,
    appModule: 'test/fixtures/test-app.ts',
    childEnv: env,
    ioNodeOptions: { replicaWait, eventTimeoutMs },
    appNodeOptions: { replicaWait },
  });
  const c = cluster;
  expect(c.childIoNodes).toHaveLength(0);
  const child = await c.startChildIoNode(env);
  const urls = [c.ioNodes[0]!.url, child.url];
  const members: LoadMember[] = [];
  for (let i = 0; i < 6; i++) members.push(await member(urls[i % 2]!));
  const names = [
    `${c.ioNodes[0]!.nodeId}:cmd`,
    `${child.nodeId}:cmd`,
    `${c.appNodes[0]!.nodeId}:pub`,
    `${c.children[0]!.nodeId}:pub`,
  ];
  return { members, senders: members.slice(0, 4), names };
}

/** Names of the clients connected to a Redis server. */
async function clientNames(url: string): Promise<string[]> {
  const list = String(await redisCommand(url, ['CLIENT', 'LIST']));
  return [...list.matchAll(/ name=(\S+)/g)].map((m) => m[1]!);
}

function report(title: string, r: LoadReport): void {
  // The figures the issue asks for, in the test log (docs/guarantees.md quotes them).
  console.log(
    `${title}: sent ${r.sent}, delivered ${r.delivered}/${r.expected}, lost ${r.lost}, duplicated ` +
      `${r.duplicated}, acknowledged and lost ${r.lostAcknowledged}, acks ok ${r.acked}, ack errors ${JSON.stringify(r.ackErrors)}, messages missing ` +
      `by phase ${JSON.stringify(r.lostByPhase)}`,
  );
}

describe('sentinel', () => {
  test('sentinel - a connection asked to reconnect while it looks the primary up connects again (ioredis alone ends it for good)', async () => {
    const redis = createRedis(sentinel!.target, 'command');
    // BullMQ's workers run on duplicates of the connection they are given.
    const copy = redis.duplicate();
    const ready = (connection: typeof redis) =>
      until(
        async () => connection.status,
        (status) => status === 'ready',
        10_000,
      );
    try {
      for (const connection of [redis, copy]) {
        await ready(connection);
        // A reconnect asked for during the look-up, as the failover detector's +switch-master does when
        // a failover completes while the connection is still asking the sentinels.
        const connecting = once(connection, 'connecting');
        connection.disconnect(true);
        await connecting;
        connection.disconnect(true);
        await ready(connection);
        expect(await connection.ping()).toBe('PONG');
      }
    } finally {
      await closeRedis(copy);
      await closeRedis(redis);
    }
  });

  test('sentinel - SENTINEL FAILOVER under load: every node follows the new primary by itself; with REDIS_WAIT_REPLICAS=1 nothing is lost', async () => {
    const s = sentinel!;
    // WAIT 1 after every write: a failover promotes the replica while the old primary still takes writes
    // for a moment, and those are lost to asynchronous replication (1 message in 2 runs without it).
    const { members, senders, names } = await sentinelCluster({ waitReplicas: 1 });
    const before = await s.primary();
    expect((await clientNames(before.url)).filter((n) => names.includes(n)).sort()).toEqual(
      [...names].sort(),
    );

    const load = startChatLoad(members, senders, { intervalMs: 25, maxPerSender: 1_500 });
    await load.acknowledged(40);
    load.phase('failover');
    const after = await s.failover();
    expect(after).not.toBe(before);
    load.phase('after');
    await load.acknowledged(80);
    const result = await load.stop(20_000);
    report('SENTINEL FAILOVER', result);

    // Every node reconnected to the new primary on its own (ioredis asked the sentinels again).
    await until(
      () => clientNames(after.url),
      (connected) => names.every((n) => connected.includes(n)),
      10_000,
    );
    expect({ lost: result.lost, ackErrors: result.ackErrors }).toEqual({ lost: 0, ackErrors: {} });
    expect(result.acked).toBe(result.sent);
  }, 120_000);

  test('sentinel - SIGKILL of the primary under load, 3 times: acknowledged writes lost to asynchronous replication are counted; with REDIS_WAIT_REPLICAS=1 none', async () => {
    const s = sentinel!;
    const results: Record<string, LoadReport> = {};
    for (const waitReplicas of [0, 1]) {
      // Events whose job died with the primary are answered TIMEOUT after 5 s instead of 30.
      const { members, senders } = await sentinelCluster({ eventTimeoutMs: 5_000, waitReplicas });
      const load = startChatLoad(members, senders, { intervalMs: 25, maxPerSender: 2_000 });
      await load.acknowledged(40);
      for (let round = 1; round <= 3; round++) {
        load.phase(`kill ${round}`);
        const old = await s.primary();
        await old.stop('SIGKILL');
        await s.waitForNewPrimary(old);
        // Back with its AOF, it is turned into a replica of the new primary by the sentinels.
        await old.start();
        await s.waitUntilHealthy();
        load.phase(`after ${round}`);
        await load.acknowledged(40);
      }
      const result = await load.stop(20_000);
      report(`SIGKILL of the primary x3, REDIS_WAIT_REPLICAS=${waitReplicas}`, result);
      results[waitReplicas] = result;
      for (const socket of sockets.splice(0)) socket.disconnect();
      await cluster?.cleanup();
      cluster = undefined;
    }
    // Without WAIT a loss is possible (and timing-dependent): reported above, not asserted. With it, no
    // acknowledged message is lost; one answered TIMEOUT (its job waited past the 5 s deadline while the
    // primary was replaced) did not run, and the client was told so.
    expect(results[1]!.lostAcknowledged).toBe(0);
  }, 240_000);
});
