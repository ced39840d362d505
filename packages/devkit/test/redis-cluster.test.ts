import { Cluster } from 'ioredis';
import { afterEach, describe, expect, test } from 'vitest';
import { type RedisClusterSetup, startRedisCluster } from '../src/index.js';
import { redisCommand } from '../src/redis-probe.js';

let setup: RedisClusterSetup | undefined;
const clients: Cluster[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await setup?.stop();
  setup = undefined;
});

/** A cluster client, as shared's createRedis builds one for a cluster target. */
function connect(s: RedisClusterSetup): Cluster {
  const client = new Cluster(s.target.nodes.map((n) => ({ ...n })));
  clients.push(client);
  return client;
}

describe('redis cluster', () => {
  test('cluster - three primaries with a replica each cover every slot; a client writes across slots', async () => {
    setup = await startRedisCluster();
    expect(setup.nodes).toHaveLength(6);
    expect(setup.env.REDIS_CLUSTER_NODES.split(',')).toEqual(setup.nodes.map((n) => `127.0.0.1:${n.port}`));
    const { primaries, replicas } = await setup.topology();
    expect(primaries.map((p) => p.slots)).toEqual([[[0, 5460]], [[5461, 10922]], [[10923, 16383]]]);
    const ports = (list: readonly (number | undefined)[]) => [...list].sort((a, b) => Number(a) - Number(b));
    expect(ports(replicas.map((r) => r.primary?.port))).toEqual(ports(primaries.map((p) => p.server.port)));
    for (const node of setup.nodes) {
      expect(await redisCommand(node.url, ['CLUSTER', 'INFO'])).toContain('cluster_state:ok');
    }

    const client = connect(setup);
    const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);
    for (const key of keys) await client.set(key, key.toUpperCase());
    expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys.map((k) => k.toUpperCase()));
    const perPrimary = await Promise.all(primaries.map((p) => redisCommand(p.server.url, ['DBSIZE'])));
    expect(perPrimary.every((n) => typeof n === 'number' && n > 0)).toBe(true);
    expect(perPrimary.reduce((a, b) => Number(a) + Number(b), 0)).toBe(keys.length);
  });

  test('cluster - failover(1) swaps primary 1 with its replica; the client keeps its data', async () => {
    setup = await startRedisCluster();
    const client = connect(setup);
    const before = await setup.topology();
    const replica = before.replicas.find((r) => r.primary === before.primaries[1]!.server)!;
    await client.set('{slot}a', '1');

    const { previous, primary } = await setup.failover(1);
    expect(previous).toBe(before.primaries[1]!.server);
    expect(primary).toBe(replica.server);
    const after = await setup.topology();
    expect(after.primaries.map((p) => p.server)).toEqual([
      before.primaries[0]!.server,
      replica.server,
      before.primaries[2]!.server,
    ]);
    expect(after.replicas.find((r) => r.server === previous)?.primary).toBe(primary);
    expect(await client.get('{slot}a')).toBe('1');
  });

  test('cluster - a killed primary is replaced by its replica', async () => {
    setup = await startRedisCluster();
    const before = await setup.topology();
    const victim = before.primaries[0]!;
    const replica = before.replicas.find((r) => r.primary === victim.server)!;
    await victim.server.stop();
    await setup.waitUntilHealthy();
    const after = await setup.topology();
    expect(after.primaries[0]!.server).toBe(replica.server);
  });
});
