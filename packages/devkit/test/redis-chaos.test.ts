import { existsSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { type RedisServer, redisReachable, startRedisServer } from '../src/index.js';
import { redisCommand } from '../src/redis-probe.js';

const servers: RedisServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function redis(options?: Parameters<typeof startRedisServer>[0]): Promise<RedisServer> {
  const server = await startRedisServer(options);
  servers.push(server);
  return server;
}

describe('redis chaos', () => {
  test('redis-server - with AOF a crash and a graceful restart keep the data, on the same port', async () => {
    const server = await redis({ aof: true });
    expect(server.dir).toMatch(/devkit-redis-/);
    await redisCommand(server.url, ['SET', 'a', '1']);
    const firstPid = server.pid;

    await server.restart();
    expect(server.pid).not.toBe(firstPid);
    expect(await redisCommand(server.url, ['GET', 'a'])).toBe('1');

    await redisCommand(server.url, ['RPUSH', 'list', 'x', 'y']);
    await server.restart('SIGTERM');
    expect(await redisCommand(server.url, ['LRANGE', 'list', '0', '-1'])).toEqual(['x', 'y']);
  });

  test('redis-server - without AOF a restart comes back empty', async () => {
    const server = await redis();
    expect(server.dir).toBeUndefined();
    await redisCommand(server.url, ['SET', 'a', '1']);
    await server.restart();
    expect(await redisCommand(server.url, ['DBSIZE'])).toBe(0);
  });

  test('redis-server - frozen it answers nothing, thawed it answers again; a frozen one still stops', async () => {
    const server = await redis();
    server.freeze();
    expect(server.frozen).toBe(true);
    expect(await redisReachable(server.url, 300)).toBe(false);
    server.thaw();
    expect(server.frozen).toBe(false);
    expect(await redisCommand(server.url, ['PING'])).toBe('PONG');

    server.freeze();
    await server.stop('SIGTERM');
    expect((await server.exited).code).toBe(0);
    expect(server.frozen).toBe(false);
  });

  test('redis-server - close removes the temp dir it made', async () => {
    const server = await redis({ aof: true });
    expect(existsSync(server.dir!)).toBe(true);
    await server.close();
    expect(existsSync(server.dir!)).toBe(false);
  });
});
