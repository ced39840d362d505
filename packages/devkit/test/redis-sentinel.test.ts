import { Redis } from 'ioredis';
import { afterEach, describe, expect, test } from 'vitest';
import { type RedisSentinelSetup, startRedisSentinel } from '../src/index.js';
import { redisCommand } from '../src/redis-probe.js';

let setup: RedisSentinelSetup | undefined;
const clients: Redis[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await setup?.stop();
  setup = undefined;
});

/** A client through the sentinels, as shared's createRedis builds one for a sentinel target. */
function connect(s: RedisSentinelSetup): Redis {
  const client = new Redis({ sentinels: s.target.sentinels.map((x) => ({ ...x })), name: s.target.name });
  clients.push(client);
  return client;
}

describe('redis sentinel', () => {
  test('sentinel - a primary, a replica and three sentinels that agree; a client finds the primary', async () => {
    setup = await startRedisSentinel({ aof: true });
    expect(setup.servers).toHaveLength(2);
    expect(setup.sentinels).toHaveLength(3);
    expect(setup.env.REDIS_SENTINEL_NAME).toBe('iocluster');
    expect(setup.env.REDIS_SENTINELS).toBe(setup.sentinels.map((s) => `127.0.0.1:${s.port}`).join(','));
    expect(await setup.primary()).toBe(setup.servers[0]);
    expect(await redisCommand(setup.sentinels[0]!.url, ['SENTINEL', 'CKQUORUM', 'iocluster'])).toMatch(/^OK/);
    const role = await redisCommand(setup.servers[1]!.url, ['ROLE']);
    expect((role as string[])[0]).toBe('slave');

    const client = connect(setup);
    await client.set('k', 'v');
    expect(await client.get('k')).toBe('v');
    expect(await client.role()).toEqual(expect.arrayContaining(['master']));
  });

  test('sentinel - failover swaps the roles; the client follows and the data is there', async () => {
    setup = await startRedisSentinel();
    const client = connect(setup);
    await client.set('before', '1');
    await client.wait(1, 2_000);

    const primary = await setup.failover();
    expect(primary).toBe(setup.servers[1]);
    const oldRole = (await redisCommand(setup.servers[0]!.url, ['ROLE'])) as [string, string, number];
    expect(oldRole.slice(0, 3)).toEqual(['slave', '127.0.0.1', setup.servers[1]!.port]);
    expect(await client.get('before')).toBe('1');
    await client.set('after', '2');
    expect(await redisCommand(primary.url, ['GET', 'after'])).toBe('2');

    // And back again at once: failover() left the setup healthy.
    expect(await setup.failover()).toBe(setup.servers[0]);
  });

  test('sentinel - a killed primary is replaced; restarted, it comes back as a replica', async () => {
    setup = await startRedisSentinel();
    const [first, second] = setup.servers as [
      RedisSentinelSetup['servers'][0],
      RedisSentinelSetup['servers'][0],
    ];
    await first.stop();
    expect(await setup.waitForNewPrimary(first)).toBe(second);
    await first.start();
    // It rejoins as a replica of the new primary. On a loaded machine Sentinel may fail over once more
    // later (the new primary briefly unresponsive), so what must hold is one primary and one replica.
    const primary = await setup.waitUntilHealthy();
    const replica = primary === second ? first : second;
    expect([first, second]).toContain(primary);
    expect(((await redisCommand(replica.url, ['ROLE'])) as string[])[0]).toBe('slave');
    expect(((await redisCommand(primary.url, ['ROLE'])) as string[])[0]).toBe('master');
  });

  test('sentinel - a restarted sentinel keeps the short timers; a frozen one is left out until thawed', async () => {
    setup = await startRedisSentinel();
    const sentinel = setup.sentinels[2]!;
    await sentinel.restart();
    const timers = (await redisCommand(sentinel.url, ['SENTINEL', 'DEBUG'])) as string[];
    expect(Number(timers[timers.indexOf('INFO-PERIOD') + 1])).toBe(500);
    sentinel.freeze();
    // Two sentinels still agree on the primary: the frozen one is not asked.
    expect(await setup.primary()).toBe(setup.servers[0]);
    sentinel.thaw();
    expect(await setup.waitUntilHealthy()).toBe(setup.servers[0]);
  });
});
