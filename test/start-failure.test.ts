import { createServer, type Server } from 'node:net';
import { createRedis, type RedisConnection } from '@iocluster/shared';
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from 'vitest';
import { failedStart, outputLines, testPrefix } from './support/entry-points.js';

let redis: RedisConnection;
let occupied: Server | undefined;
const prefixes: string[] = [];
beforeAll(() => {
  redis = createRedis(inject('redisUrl'), 'command');
});
afterEach(async () => {
  await new Promise((resolve) => (occupied ? occupied.close(resolve) : resolve(undefined)));
  occupied = undefined;
  for (const prefix of prefixes.splice(0)) {
    const keys = await redis.keys(`{${prefix}}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
});
afterAll(() => redis.disconnect());

/** A port some other process listens on. */
async function portInUse(): Promise<number> {
  occupied = createServer();
  const server = occupied;
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
}

/** Keys of `prefix` that never expire. */
async function keysWithoutExpiry(prefix: string): Promise<string[]> {
  const keys = await redis.keys(`*${prefix}*`);
  const ttls = await Promise.all(keys.map((key) => redis.pttl(key)));
  return keys.filter((_key, i) => ttls[i] === -1).sort();
}

const hasStack = (line: string) => /\n\s+at |\\n\s+at /.test(line);

describe('start failure', () => {
  test('start failure - a bad setting is one line naming the variable, exit 1; the stack only at debug level', async () => {
    const out = outputLines();
    const code = await failedStart('io-node', {
      env: { IO_NODE_PORT: 'abc', IOCLUSTER_PREFIX: testPrefix() },
      output: out,
    });
    expect(code).toBe(1);
    expect(out.lines).toHaveLength(1);
    expect(out.records[0]).toMatchObject({
      level: 60,
      code: 'CONFIG_INVALID',
      variable: 'IO_NODE_PORT',
      msg: 'cannot start: IO_NODE_PORT must be an integer from 0 to 65535, got "abc"; correct it and start again',
    });
    expect(hasStack(out.lines[0]!)).toBe(false);

    const debug = outputLines();
    expect(
      await failedStart('io-node', { env: { IO_NODE_PORT: 'abc', LOG_LEVEL: 'debug' }, output: debug }),
    ).toBe(1);
    expect(debug.lines).toHaveLength(1);
    expect(debug.records[0]).toMatchObject({ level: 60, variable: 'IO_NODE_PORT' });
    expect(hasStack(debug.lines[0]!)).toBe(true);
  });

  test('start failure - a port in use names its variable, exits 1, and leaves no Redis key without an expiry', async () => {
    const prefix = testPrefix();
    prefixes.push(prefix);
    const port = await portInUse();
    const out = outputLines();
    const code = await failedStart('io-node', {
      env: { IO_NODE_PORT: String(port), IO_NODE_HOST: '127.0.0.1', IOCLUSTER_PREFIX: prefix },
      output: out,
    });
    expect(code).toBe(1);
    const problems = out.records.filter((record) => Number(record.level) >= 40);
    expect(problems).toEqual([
      expect.objectContaining({
        level: 60,
        code: 'EADDRINUSE',
        variable: 'IO_NODE_PORT',
        msg: `cannot start: IO_NODE_PORT: port ${port} on 127.0.0.1 is already in use; choose another IO_NODE_PORT (0 picks a free port) or stop the process that holds it`,
      }),
    ]);
    expect(out.lines.filter(hasStack)).toEqual([]);
    expect(out.lines.length).toBeLessThanOrEqual(2);
    expect(await keysWithoutExpiry(prefix)).toEqual([]);

    // The frontend and an app-node's metrics port say the same with their own variable.
    const front = outputLines();
    expect(
      await failedStart('frontend', {
        env: { FRONTEND_PORT: String(port), FRONTEND_HOST: '127.0.0.1', IOCLUSTER_PREFIX: prefix },
        output: front,
      }),
    ).toBe(1);
    expect(front.records.filter((record) => Number(record.level) >= 40)).toEqual([
      expect.objectContaining({ level: 60, code: 'EADDRINUSE', variable: 'FRONTEND_PORT' }),
    ]);
    const app = outputLines();
    expect(
      await failedStart('app-node', {
        args: ['test/fixtures/test-app.ts'],
        env: { METRICS_PORT: String(port), METRICS_HOST: '127.0.0.1', IOCLUSTER_PREFIX: prefix },
        output: app,
      }),
    ).toBe(1);
    expect(app.records.filter((record) => Number(record.level) >= 40)).toEqual([
      expect.objectContaining({ level: 60, code: 'EADDRINUSE', variable: 'METRICS_PORT' }),
    ]);
    expect(app.lines.filter(hasStack)).toEqual([]);
    expect(await keysWithoutExpiry(prefix)).toEqual([]);
  });

  test('start failure - a missing handlers module is one line naming the path and APP_MODULE, exit 1', async () => {
    const out = outputLines();
    const code = await failedStart('app-node', {
      args: ['test/fixtures/no-such-handlers.ts'],
      env: { IOCLUSTER_PREFIX: testPrefix() },
      output: out,
    });
    expect(code).toBe(1);
    expect(out.lines).toHaveLength(1);
    expect(out.records[0]).toMatchObject({ level: 60, code: 'CONFIG_INVALID', variable: 'APP_MODULE' });
    expect(String(out.records[0]!.msg)).toMatch(
      /^cannot start: APP_MODULE: the handlers module \/.*test\/fixtures\/no-such-handlers\.ts does not exist; give the path of your handlers module/,
    );
    expect(hasStack(out.lines[0]!)).toBe(false);
  });
});
