import { startTcpProxy, type TcpProxy } from '@iocluster/devkit';
import { createKeys } from '@iocluster/shared';
import { afterEach, describe, expect, test } from 'vitest';
import registerTestApp from './fixtures/test-app.js';
import { type Cluster, collect, setup } from './support/cluster.js';
import { until } from './support/poll.js';

let cluster: Cluster | undefined;
let proxy: TcpProxy | undefined;
afterEach(async () => {
  await cluster?.cleanup();
  await proxy?.close();
  cluster = undefined;
  proxy = undefined;
});

/** Entries ever appended to an io-node's inbox (XINFO's entries-added survives the node's own trims). */
async function appended(c: Cluster, nodeId: string): Promise<number> {
  const info = (await c.redis.xinfo('STREAM', createKeys(c.prefix).inbox(nodeId))) as unknown[];
  return Number(info[info.indexOf('entries-added') + 1]);
}

const fast = { heartbeatIntervalMs: 200, heartbeatTtlMs: 600, inboxRetentionMs: 1_000 };

describe('command path', () => {
  test('routing - a room lists exactly the io-nodes holding members; leaves and disconnects take them off', async () => {
    cluster = await setup({ ioNodes: 3, appNodes: 1, register: registerTestApp });
    const c = cluster;
    const keys = createKeys(c.prefix);
    const [n0, n1] = c.ioNodes.map((n) => n.nodeId);
    const [a, b, b2] = await Promise.all([c.connect(0), c.connect(1), c.connect(1)]);
    for (const s of [a, b, b2]) await s.emitWithAck('join', 'r');
    expect(await c.redis.hgetall(keys.roomNodes('r'))).toEqual({ [n0!]: '1', [n1!]: '2' });
    await b.emitWithAck('leave', 'r');
    await until(
      () => c.redis.hgetall(keys.roomNodes('r')),
      (h) => h[n1!] === '1',
      5_000,
    );
    b2.disconnect();
    a.disconnect();
    await until(
      () => c.redis.exists(keys.roomNodes('r')),
      (n) => n === 0,
      5_000,
    );
  });

  test('routing - a room emit is appended only to the inboxes of io-nodes with members, in order', async () => {
    cluster = await setup({ ioNodes: 3, appNodes: 2, register: registerTestApp });
    const c = cluster;
    const [a, a2, idle] = await Promise.all([c.connect(0), c.connect(0), c.connect(2)]);
    for (const s of [a, a2]) await s.emitWithAck('join', 'r');
    expect(await idle.emitWithAck('echo', 'idle')).toEqual(['idle']);
    const before = await Promise.all(c.ioNodes.map((n) => appended(c, n.nodeId)));
    const got = [collect<number>(a, 'room'), collect<number>(a2, 'room')];
    for (let i = 0; i < 40; i++) a.emit('room only', 'r', i);
    await Promise.all(got.map((g) => g.until(40)));
    const expected = Array.from({ length: 40 }, (_, i) => i);
    expect(got.map((g) => g.items)).toEqual([expected, expected]);
    const after = await Promise.all(c.ioNodes.map((n) => appended(c, n.nodeId)));
    expect(after[0]! - before[0]!).toBeGreaterThan(0);
    expect([after[1]! - before[1]!, after[2]! - before[2]!]).toEqual([0, 0]);
  });

  test('inbox - commands sent while an io-node is cut off from Redis arrive in order once it is back; its events wait and are answered', async () => {
    cluster = await setup({ appNodes: 2, register: registerTestApp });
    const c = cluster;
    proxy = await startTcpProxy({ port: Number(new URL(c.redisUrl).port) });
    await c.startIoNode({ redis: `redis://127.0.0.1:${proxy.port}` });
    await c.startIoNode();
    const [a, b] = await Promise.all([c.connect(0), c.connect(1)]);
    await a.emitWithAck('join', 'r');
    const got = collect<number>(a, 'room');

    proxy.cut();
    // Everything below is sent while node 0 cannot reach Redis.
    for (let i = 0; i < 50; i++) b.emit('room only', 'r', i);
    const sentDuringCut = a.emitWithAck('echo', 'sent while cut off');
    expect(await b.emitWithAck('room only', 'r', 50)).toBe(true);
    expect(got.items).toEqual([]);

    proxy.restore();
    expect(await sentDuringCut).toEqual(['sent while cut off']);
    await got.until(51);
    expect(got.items).toEqual(Array.from({ length: 51 }, (_, i) => i));
  });

  test('inbox - an io-node cut off longer than its heartbeat TTL is taken for dead, yet misses nothing when back', async () => {
    cluster = await setup({ appNodes: 1, register: registerTestApp, ioNodeOptions: fast });
    const c = cluster;
    proxy = await startTcpProxy({ port: Number(new URL(c.redisUrl).port) });
    // Inbox retention as in production: the purge comes long after this test.
    const cutOff = await c.startIoNode({
      redis: `redis://127.0.0.1:${proxy.port}`,
      inboxRetentionMs: 120_000,
    });
    const witness = await c.startIoNode({ inboxRetentionMs: 120_000 });
    const [a, b] = await Promise.all([c.connect(0), c.connect(1)]);
    await a.emitWithAck('join', 'r');
    const got = collect<number>(a, 'room');
    const expired = new Promise<void>((resolve) =>
      witness.on('peer-expired', (id) => {
        if (id === cutOff.nodeId) resolve();
      }),
    );
    proxy.cut();
    await expired;
    // Taken for dead (past its TTL): room messages still go to its inbox, which waits for it.
    for (let i = 0; i < 30; i++) expect(await b.emitWithAck('room only', 'r', i)).toBe(true);
    expect(got.items).toEqual([]);
    proxy.restore();
    await got.until(30);
    expect(got.items).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(await a.emitWithAck('echo', 'back')).toEqual(['back']);
  });

  test('purge - a SIGKILLed io-node is purged exactly once, by one survivor: inbox, heartbeat and room entries', async () => {
    cluster = await setup({ appNodes: 1, register: registerTestApp, ioNodeOptions: fast });
    const c = cluster;
    const keys = createKeys(c.prefix);
    const survivors = [await c.startIoNode(), await c.startIoNode()];
    const purges: string[] = [];
    const purged = new Promise<void>((resolve) => {
      for (const node of survivors) {
        node.on('peer-purged', (id) => {
          purges.push(id);
          resolve();
        });
      }
    });
    const doomed = await c.startChildIoNode({ HEARTBEAT_INTERVAL_MS: '200', HEARTBEAT_TTL_MS: '600' });
    const { io: connectTo } = await import('socket.io-client');
    const victim = connectTo(doomed.url, { transports: ['websocket'], reconnection: false });
    try {
      await new Promise<void>((resolve) => victim.once('connect', resolve));
      await victim.emitWithAck('join', 'r');
      const member = await c.connect(0);
      await member.emitWithAck('join', 'r');
      expect(Object.keys(await c.redis.hgetall(keys.roomNodes('r'))).sort()).toEqual(
        [survivors[0]!.nodeId, doomed.nodeId].sort(),
      );
      const seenGone = survivors.map(
        (node) =>
          new Promise<void>((resolve) => {
            node.on('peer-left', (peer) => {
              if (peer.nodeId === doomed.nodeId) resolve();
            });
          }),
      );
      await doomed.kill();
      await purged;
      await Promise.all(seenGone);
      expect(await c.redis.exists(keys.inbox(doomed.nodeId))).toBe(0);
      expect(await c.redis.hgetall(keys.roomNodes('r'))).toEqual({ [survivors[0]!.nodeId]: '1' });
      expect(await c.redis.zscore(keys.inboxNodes, doomed.nodeId)).toBeNull();
      expect(await c.redis.exists(keys.nodeRooms(doomed.nodeId))).toBe(0);
      expect(purges).toEqual([doomed.nodeId]);
      // The survivors keep serving the room.
      const got = collect(member, 'room');
      await member.emitWithAck('room only', 'r', 'still here');
      await got.until(1);
      expect(got.items).toEqual(['still here']);
    } finally {
      victim.disconnect();
    }
  });
});
