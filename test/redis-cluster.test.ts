import { randomBytes } from 'node:crypto';
import { type AppNode, createRedisCommandTransport } from '@iocluster/app-node';
import { createClient, type IoclusterClient } from '@iocluster/client';
import { type RedisClusterSetup, redisCommand, startRedisCluster } from '@iocluster/devkit';
import {
  type Command,
  closeRedis,
  createKeys,
  createRedis,
  createRoutingTable,
  luaScript,
  type RedisConnection,
  silentLogger,
} from '@iocluster/shared';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createInboxSubscriber } from '../packages/io-node/src/command-bus.js';
import registerTestApp from './fixtures/test-app.js';
import { type Cluster, collect, deleteKeys, nextEvent, setup } from './support/cluster.js';
import { until } from './support/poll.js';
import { appNodeKilledHoldingJobs, ioNodeKilledWhilePublishing } from './support/scenarios.js';

// One Redis Cluster (3 primaries, 3 replicas) for the whole file; every test builds its own iocluster on
// it under a prefix of its own, and cleans its keys up.
let redisCluster: RedisClusterSetup;
let cluster: Cluster | undefined;
const clients: IoclusterClient[] = [];

beforeAll(async () => {
  redisCluster = await startRedisCluster();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await cluster?.cleanup();
  cluster = undefined;
});

afterAll(async () => {
  await redisCluster?.stop();
});

const FAST = { heartbeatIntervalMs: 200, heartbeatTtlMs: 600 };
const CHILD_FAST = { HEARTBEAT_INTERVAL_MS: '200', HEARTBEAT_TTL_MS: '600' };

/** The Cluster slot of each key, asked of the cluster itself. */
async function slots(keys: readonly string[]): Promise<number[]> {
  const url = redisCluster.nodes[0]!.url;
  return Promise.all(keys.map(async (key) => Number(await redisCommand(url, ['CLUSTER', 'KEYSLOT', key]))));
}

/** Test handlers plus a presence join. */
function withPresence(app: AppNode): void {
  registerTestApp(app);
  app.on('pjoin', async (socket, room: string, nick: string) => {
    await socket.join(room, { presence: { nick } });
    return socket.memberId;
  });
}

describe('redis cluster', () => {
  test('redis cluster - rooms across 4 io-nodes (two of them processes given only REDIS_CLUSTER_NODES): join-before-emit holds, acks answer', async () => {
    cluster = await setup({ ioNodes: 2, appNodes: 2, register: registerTestApp, redis: redisCluster.target });
    const c = cluster;
    const children = await Promise.all([c.startChildIoNode(), c.startChildIoNode()]);
    const urls = [...c.ioNodes.map((n) => n.url), ...children.map((n) => n.url)];
    // Two clients on every io-node.
    const sockets = await Promise.all([...urls, ...urls].map((url) => c.connectTo(url)));
    expect(await sockets[2]!.emitWithAck('echo', 1, 'two')).toEqual([1, 'two']);

    // A join then at once an emit from another client on another io-node (served by either app-node):
    // no waiting in between, the joined socket gets it. A room per socket, on slots of their own.
    const rooms = sockets.map((_, i) => `room-${i}`);
    await Promise.all(
      rooms.map(async (room, i) => {
        const member = sockets[i]!;
        const sender = sockets[(i + 3) % sockets.length]!;
        const got = nextEvent<[string]>(member, 'room');
        expect(await member.emitWithAck('join', room)).toEqual([room]);
        expect(await sender.emitWithAck('room only', room, room)).toBe(true);
        expect(await got).toEqual([room]);
      }),
    );
    expect(new Set(await slots(rooms.map((room) => createKeys(c.prefix).roomNodes(room)))).size).toBe(
      rooms.length,
    );

    // Join and emit in one handler: the joining socket is among the receivers of its own welcome.
    const welcomes = await Promise.all(
      sockets.map(async (socket, i) => {
        const welcome = nextEvent<[string, string]>(socket, 'welcome');
        expect(await socket.emitWithAck('join and emit', `w-${i}`)).toBe('ok');
        return welcome;
      }),
    );
    expect(welcomes).toEqual(sockets.map((socket, i) => [`w-${i}`, socket.id]));

    // Everyone in one room: a room emit reaches all 8 on 4 io-nodes once, nobody outside.
    const outsider = await c.connectTo(urls[3]!);
    for (const s of sockets) await s.emitWithAck('join', 'all');
    const received = [...sockets, outsider].map((s) => collect(s, 'room'));
    const markers = [...sockets, outsider].map((s) => nextEvent(s, 'marker'));
    expect(await outsider.emitWithAck('to room', 'all', { text: 'hi' })).toBe(true);
    await Promise.all(markers);
    expect(received.map((r) => r.items)).toEqual([...sockets.map(() => [{ text: 'hi' }]), []]);
  });

  test('redis cluster - per-client order: 500 events sent at once run and answer in order over 2 app-nodes', async () => {
    // 500 at once is five times the default burst (CLIENT_EVENT_BURST): this test is about order.
    cluster = await setup({
      ioNodes: 1,
      appNodes: 2,
      register: registerTestApp,
      redis: redisCluster.target,
      ioNodeOptions: { clientEventBurst: 500 },
    });
    const c = cluster;
    const socket = await c.connect(0);
    const violations = collect(socket, 'order violation');
    const seen = collect<number>(socket, 'seq');
    const expected = Array.from({ length: 500 }, (_, n) => n);
    const answers = await Promise.all(expected.map((n) => socket.emitWithAck('seq', n)));
    await seen.until(500);
    expect(answers).toEqual(expected);
    expect(seen.items).toEqual(expected);
    expect(violations.items).toEqual([]);
  });

  test('redis cluster - no-client fires on an app-node started after the client connected; data goes on', async () => {
    cluster = await setup({ ioNodes: 1, appNodes: 1, register: registerTestApp, redis: redisCluster.target });
    const c = cluster;
    const socket = await c.connect(0);
    const noClient = collect<string>(socket, 'no-client');
    await socket.emitWithAck('set', { name: 'ada' });
    await c.appNodes[0]!.close();
    c.appNodes.shift();
    const restarted = await c.startAppNode();
    expect(await socket.emitWithAck('get')).toMatchObject({ data: { name: 'ada' }, by: restarted.nodeId });
    await noClient.until(1);
    expect(noClient.items).toEqual([restarted.nodeId]);
  });

  test('redis cluster - presence: joined on two io-nodes, left once when one disconnects; the roster agrees', async () => {
    cluster = await setup({ ioNodes: 2, appNodes: 1, register: withPresence, redis: redisCluster.target });
    const c = cluster;
    const [a, b] = await Promise.all([c.connect(0), c.connect(1)]);
    const seenByA = collect<{ room: string; joined?: { id: string }; left?: { id: string } }>(a, 'presence');
    const idA = (await a.emitWithAck('pjoin', 'lobby', 'ann')) as string;
    const idB = (await b.emitWithAck('pjoin', 'lobby', 'bob')) as string;
    // Another client's later request sees bob once his io-node wrote the roster (docs/presence.md: the
    // ack does not wait for that write).
    await expect
      .poll(() => a.emitWithAck('$presence', 'lobby'), { timeout: 5_000 })
      .toEqual({
        room: 'lobby',
        members: [
          { id: idA, nick: 'ann' },
          { id: idB, nick: 'bob' },
        ],
      });
    // a saw its own joined (it was in the room when the change went out), then bob's.
    await seenByA.until(2);
    b.disconnect();
    await seenByA.until(3);
    expect(seenByA.items).toEqual([
      { room: 'lobby', joined: { id: idA, nick: 'ann' } },
      { room: 'lobby', joined: { id: idB, nick: 'bob' } },
      { room: 'lobby', left: { id: idB, nick: 'bob' } },
    ]);
    expect(await c.appNodes[0]!.presence('lobby')).toMatchObject([{ id: idA }]);
  });

  test('redis cluster - room history and recovery: 10 clients of a SIGKILLed io-node get every message once, in history order', async () => {
    cluster = await setup({
      appNodes: 1,
      register: registerTestApp,
      appNodeOptions: { history: { rooms: ['h:*'] } },
      ioNodeOptions: FAST,
      redis: redisCluster.target,
    });
    const c = cluster;
    const frontend = await c.startFrontend({ registryRefreshMs: 100 });
    const victim = await c.startChildIoNode(CHILD_FAST);
    const listeners = Array.from({ length: 10 }, () => {
      const client = createClient({ frontendUrl: frontend.url, backoffMinMs: 50, backoffMaxMs: 200 });
      clients.push(client);
      return client;
    });
    await ioNodeKilledWhilePublishing(c, { victim, listeners, publishers: 3, perPublisher: 30 });
  });

  test('redis cluster - an app-node SIGKILLed while holding jobs loses no event (child app-nodes given only REDIS_CLUSTER_NODES)', async () => {
    cluster = await setup({
      ioNodes: 2,
      childAppNodes: 2,
      appModule: 'test/fixtures/test-app.ts',
      childEnv: { LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '1000' },
      redis: redisCluster.target,
    });
    await appNodeKilledHoldingJobs(cluster, 10);
  });

  test('redis cluster - inbox pushes are sharded: carried by the inbox’s shard alone, moved with it by a failover, in order, the Stream read only at the start and after the failover', async () => {
    const prefix = `t${randomBytes(5).toString('hex')}`;
    const keys = createKeys(prefix);
    const logger = silentLogger();
    const connections: RedisConnection[] = [];
    const open = (role: 'publisher' | 'subscriber', sharded = false) => {
      const connection = createRedis(redisCluster.target, role, { logger, sharded });
      connections.push(connection);
      return connection;
    };
    const commands = open('publisher');
    const transport = createRedisCommandTransport(open('publisher'), keys, {
      inboxRetentionMs: 60_000,
      recoveryWindowMs: 60_000,
    });
    const nodeId = 'io-sharded';
    const inbox = keys.inbox(nodeId);
    // No idle reads: whatever arrives after the failover comes by push, or by the read that follows the
    // subscription made again.
    const subscriber = createInboxSubscriber({
      nodeId,
      keys,
      routing: createRoutingTable(commands, keys),
      reader: open('subscriber', true),
      commands,
      logger,
      idleReadMs: 600_000,
    });
    let reads = 0;
    const xread = commands.xread.bind(commands);
    commands.xread = ((...args: Parameters<typeof xread>) => {
      reads++;
      return xread(...args);
    }) as typeof commands.xread;
    const applied: number[] = [];
    subscriber.onCommand((cmd) => void applied.push((cmd as { args: number[] }).args[0]!));
    const emit = (n: number): Command => ({ type: 'emit', event: 'n', args: [n], socketId: 's1' });
    const appendRange = async (from: number, to: number) => {
      for (let n = from; n < to; n++)
        expect(await transport.append(new Map([[nodeId, [emit(n)]]]))).toEqual([]);
      await until(
        async () => applied.length,
        (count) => count >= to,
        10_000,
      );
    };
    /** Subscriptions to the inbox's name on every node: sharded, plain. */
    const subscriptions = async () =>
      Promise.all(
        redisCluster.nodes.map(async (node) => {
          const sharded = (await redisCommand(node.url, ['PUBSUB', 'SHARDNUMSUB', inbox])) as [
            string,
            number,
          ];
          const plain = (await redisCommand(node.url, ['PUBSUB', 'NUMSUB', inbox])) as [string, number];
          return { url: node.url, sharded: Number(sharded[1]), plain: Number(plain[1]) };
        }),
      );
    const primaryOfInbox = async () => {
      const [slot] = await slots([inbox]);
      const { primaries } = await redisCluster.topology();
      const index = primaries.findIndex((p) => p.slots.some(([a, b]) => slot! >= a && slot! <= b));
      return { index, url: primaries[index]!.server.url };
    };
    try {
      await subscriber.start();
      const readsAtStart = reads;
      await appendRange(0, 100);
      expect(applied).toEqual(Array.from({ length: 100 }, (_, n) => n));
      expect(reads).toBe(readsAtStart);
      const before = await primaryOfInbox();
      expect((await subscriptions()).filter((s) => s.sharded > 0 || s.plain > 0)).toEqual([
        { url: before.url, sharded: 1, plain: 0 },
      ]);

      // The primary is demoted: it drops the subscription; the node subscribes again within the shard
      // (on the promoted replica, or on the demoted node, a replica of it now: both carry the pushes).
      await redisCluster.failover(before.index);
      const after = await primaryOfInbox();
      expect(after.url).not.toBe(before.url);
      await appendRange(100, 200);
      const shard = [before.url, after.url];
      const subscribed = await until(
        async () => (await subscriptions()).filter((s) => s.sharded > 0 || s.plain > 0),
        (list) => list.length === 1 && list[0]!.sharded === 1,
        10_000,
      );
      expect(shard).toContain(subscribed[0]!.url);
      expect(subscribed[0]!.plain).toBe(0);
      const readsAfterFailover = reads;
      await appendRange(200, 300);
      expect(applied).toEqual(Array.from({ length: 300 }, (_, n) => n));
      expect(reads).toBe(readsAfterFailover);
    } finally {
      await subscriber.close();
      await deleteKeys(commands, prefix);
      await Promise.allSettled(connections.map((c) => closeRedis(c)));
    }
  });

  test('redis cluster - scripts of one auto-pipeline redirected for different slots after a failover run once each, not failed', async () => {
    const prefix = `t${randomBytes(5).toString('hex')}`;
    const publisher = createRedis(redisCluster.target, 'publisher', { logger: silentLogger() });
    const script = luaScript(
      'count',
      "--[[\n  KEYS[1] a counter\n  ARGV none\n  Returns its count\n]]\nreturn redis.call('INCR', KEYS[1])\n",
    );
    try {
      // Eight keys in eight slots, all served by primary 0.
      const { primaries } = await redisCluster.topology();
      const candidates = Array.from({ length: 400 }, (_, i) => `${prefix}:{c${i}}`);
      const candidateSlots = await slots(candidates);
      const onFirst = candidates
        .filter((_, i) =>
          primaries[0]!.slots.some(([a, b]) => candidateSlots[i]! >= a && candidateSlots[i]! <= b),
        )
        .slice(0, 8);
      expect(onFirst).toHaveLength(8);
      // One turn's calls go out as one pipeline to primary 0.
      expect(await Promise.all(onFirst.map((key) => script.run(publisher, [key], [])))).toEqual(
        onFirst.map(() => 1),
      );

      await redisCluster.failover(0);
      // The publisher still sends them to the demoted node, which answers MOVED for each slot: ioredis
      // follows none of them in such a pipeline, and the scripts are sent again.
      expect(await Promise.all(onFirst.map((key) => script.run(publisher, [key], [])))).toEqual(
        onFirst.map(() => 2),
      );
    } finally {
      await deleteKeys(publisher, prefix);
      await closeRedis(publisher);
    }
  });

  test('redis cluster - key slots: a room’s keys share one slot, rooms and io-nodes spread, `{prefix}` keys share one', async () => {
    const keys = createKeys('slots');
    const room = (r: string) => [
      keys.roomNodes(r),
      keys.history(r),
      keys.historyMeta(r),
      keys.presenceConnections(r),
      keys.presenceMembers(r),
    ];
    const node = (n: string) => [
      keys.inbox(n),
      keys.nodeRooms(n),
      keys.nodeSessions(n),
      keys.nodePresence(n),
    ];
    for (const group of [
      room('lobby'),
      room('a}b{c'),
      node('io-1'),
      [keys.session('s1'), keys.sessionReplies('s1')],
      // A client's state is read with its job's other clients (one partition) in one MGET.
      // (s1 and s5 are both in partition 1 of 4.)
      [keys.clientState('s1', 4), keys.clientState('s5', 4), keys.ingressPartitions(4)[1]!.stream],
    ]) {
      expect(new Set(await slots(group)).size).toBe(1);
    }
    const tagged = [
      keys.inboxNodes,
      keys.presenceNodes,
      keys.registryNode('io-1'),
      keys.appRegistryIndex,
      keys.appRegistryNode('app-1'),
      `${keys.bullPrefix}:${keys.ingressQueue}:wait`,
      `${keys.bullPrefix}:${keys.ingressQueue}:events`,
      keys.ingressPartitions(1)[0]!.stream,
      keys.clientState('s1', 1),
    ];
    expect(new Set(await slots(tagged)).size).toBe(1);
    // 100 rooms and 100 io-nodes: their slots spread over all three primaries.
    const { primaries } = await redisCluster.topology();
    const primaryOf = (slot: number) =>
      primaries.findIndex((p) => p.slots.some(([a, b]) => slot >= a && slot <= b));
    const names = Array.from({ length: 100 }, (_, i) => `n${i}`);
    for (const spread of [names.map((n) => keys.roomNodes(n)), names.map((n) => keys.inbox(n))]) {
      const owners = new Set((await slots(spread)).map(primaryOf));
      expect(owners).toEqual(new Set([0, 1, 2]));
    }
  });
});
