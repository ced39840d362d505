import { type RedisClusterSetup, redisCommand, startRedisCluster } from '@iocluster/devkit';
import type { Socket as ClientSocket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import registerTestApp from './fixtures/test-app.js';
import { type Cluster, collect, nextEvent, setup } from './support/cluster.js';
import { until } from './support/poll.js';

let redisCluster: RedisClusterSetup;
let cluster: Cluster | undefined;

beforeAll(async () => {
  redisCluster = await startRedisCluster();
});

afterAll(async () => {
  await cluster?.cleanup();
  await redisCluster?.stop();
});

/**
 * Waits until the client's io-node applied its join: the rooms a job carries are the io-node's. Needed on
 * a Cluster only while commands travel by pub/sub: ioredis sends each key-less PUBLISH pipeline to a
 * random primary and the cluster bus forwards it, so an io-node can get a later command (the room emit)
 * before an earlier one (the join) and the join-then-emit order does not hold.
 */
async function joinedAtIoNode(socket: ClientSocket, room: string): Promise<void> {
  await until(
    () => socket.emitWithAck('get') as Promise<{ rooms: string[] }>,
    ({ rooms }) => rooms.includes(room),
    10_000,
  );
}

describe('redis cluster', () => {
  test('redis cluster - rooms across two io-nodes and an ack, with every tier on a Redis Cluster', async () => {
    cluster = await setup({ ioNodes: 2, appNodes: 1, register: registerTestApp, redis: redisCluster.target });
    const c = cluster;
    const [a, b, outsider] = await Promise.all([c.connect(0), c.connect(1), c.connect(1)]);
    expect(await a.emitWithAck('echo', 1, 'two')).toEqual([1, 'two']);
    expect(await a.emitWithAck('join', 'r1')).toEqual(['r1']);
    expect(await b.emitWithAck('join', 'r1')).toEqual(['r1']);
    await Promise.all([joinedAtIoNode(a, 'r1'), joinedAtIoNode(b, 'r1')]);

    const received = [a, b, outsider].map((s) => collect(s, 'room'));
    const markers = [a, b, outsider].map((s) => nextEvent(s, 'marker'));
    expect(await outsider.emitWithAck('to room', 'r1', { text: 'hi' })).toBe(true);
    // The marker goes to everyone in the same command message as the room emit.
    await Promise.all(markers);
    expect(received.map((r) => r.items)).toEqual([[{ text: 'hi' }], [{ text: 'hi' }], []]);
    // Queue and registry keys all carry the `{prefix}` hash tag: they live on one primary, in one slot.
    const { primaries } = await redisCluster.topology();
    const tagged = await Promise.all(
      primaries.map(async ({ server }) => {
        const reply = await redisCommand(server.url, [
          'SCAN',
          '0',
          'MATCH',
          `{${c.prefix}}:*`,
          'COUNT',
          '10000',
        ]);
        return (reply as [string, string[]])[1];
      }),
    );
    expect(tagged.filter((keys) => keys.length > 0)).toHaveLength(1);
  });
});
