import type { ForkedProcess } from '@iocluster/devkit';
import { createKeys, createRedis, type RedisConnection } from '@iocluster/shared';
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from 'vitest';
import { type Stack, startStack } from '../example/src/launcher.js';
import { failedStart, outputLines, startEntryPoint, testPrefix } from './support/entry-points.js';

let redis: RedisConnection;
const started: ForkedProcess[] = [];
const stacks: Stack[] = [];
const prefixes: string[] = [];
beforeAll(() => {
  redis = createRedis(inject('redisUrl'), 'command');
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.stop()));
  await Promise.all(stacks.splice(0).map((s) => s.stop()));
  for (const prefix of prefixes.splice(0)) {
    for (const pattern of createKeys(prefix).patterns) {
      const keys = await redis.keys(pattern);
      if (keys.length > 0) await redis.del(...keys);
    }
  }
});
afterAll(() => redis.disconnect());

async function keysOf(prefix: string): Promise<string[]> {
  const all = await Promise.all(createKeys(prefix).patterns.map((pattern) => redis.keys(pattern)));
  return all.flat();
}

describe('cluster id', () => {
  test('cluster id - a node or frontend of another stack on the same prefix refuses to start, naming CLUSTER_ID; nodes of the stack join', async () => {
    const prefix = testPrefix();
    prefixes.push(prefix);
    const env = { IOCLUSTER_PREFIX: prefix, IO_NODE_HOST: '127.0.0.1', IO_NODE_PORT: '0' };
    const first = outputLines();
    started.push(await startEntryPoint('io-node', { env: { ...env, CLUSTER_ID: 'stack-a' }, output: first }));
    const key = createKeys(prefix).clusterId;
    expect(await redis.get(key)).toBe('stack-a');
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);

    const other = outputLines();
    expect(await failedStart('io-node', { env: { ...env, CLUSTER_ID: 'stack-b' }, output: other })).toBe(1);
    expect(other.records.filter((record) => Number(record.level) >= 40)).toEqual([
      expect.objectContaining({
        level: 60,
        variable: 'CLUSTER_ID',
        msg: `cannot start: CLUSTER_ID is "stack-b" but the key prefix "${prefix}" on this Redis is used by the stack "stack-a"; give this stack its own IOCLUSTER_PREFIX, or set CLUSTER_ID=stack-a if it is part of that stack`,
      }),
    ]);
    const otherApp = outputLines();
    expect(
      await failedStart('app-node', {
        args: ['test/fixtures/test-app.ts'],
        env: { IOCLUSTER_PREFIX: prefix, CLUSTER_ID: 'stack-b' },
        output: otherApp,
      }),
    ).toBe(1);
    expect(otherApp.records.filter((record) => Number(record.level) >= 40)).toEqual([
      expect.objectContaining({ level: 60, variable: 'CLUSTER_ID' }),
    ]);
    const otherFrontend = outputLines();
    expect(
      await failedStart('frontend', {
        env: {
          IOCLUSTER_PREFIX: prefix,
          CLUSTER_ID: 'stack-b',
          FRONTEND_HOST: '127.0.0.1',
          FRONTEND_PORT: '0',
        },
        output: otherFrontend,
      }),
    ).toBe(1);
    expect(otherFrontend.records.filter((record) => Number(record.level) >= 40)).toEqual([
      expect.objectContaining({ level: 60, variable: 'CLUSTER_ID' }),
    ]);
    expect(await redis.get(key)).toBe('stack-a');

    // The same id, or none at all: the node joins the recorded stack.
    const app = outputLines();
    started.push(
      await startEntryPoint('app-node', {
        args: ['test/fixtures/test-app.ts'],
        env: { IOCLUSTER_PREFIX: prefix, CLUSTER_ID: 'stack-a' },
        output: app,
      }),
    );
    const joiner = outputLines();
    started.push(await startEntryPoint('io-node', { env, output: joiner }));
    expect(
      await joiner.waitFor((record) => record.msg === 'joined the stack on the key prefix'),
    ).toMatchObject({
      clusterId: 'stack-a',
      prefix,
    });
  });

  test('cluster id - two examples on one running Redis each get a prefix and a cluster id of their own, and leave no key behind', async () => {
    const options = {
      redisUrl: inject('redisUrl'),
      startRedis: false,
      ioNodes: 1,
      appNodes: 1,
      frontendPort: 0,
      source: true,
    } as const;
    const one = await startStack(options);
    stacks.push(one);
    const two = await startStack(options);
    stacks.push(two);
    prefixes.push(one.prefix, two.prefix);
    expect(one.prefix).toMatch(/^example-[0-9a-f]{8}$/);
    expect(two.prefix).toMatch(/^example-[0-9a-f]{8}$/);
    expect(one.prefix).not.toBe(two.prefix);
    const ids = await Promise.all([one, two].map((s) => redis.get(createKeys(s.prefix).clusterId)));
    expect(ids[0]).toMatch(/^example-/);
    expect(ids[1]).toMatch(/^example-/);
    expect(ids[0]).not.toBe(ids[1]);
    // Each frontend lists its own io-node only.
    for (const stack of [one, two]) {
      const res = await fetch(`${stack.frontendUrl}/api/io-nodes`);
      const { nodes } = (await res.json()) as { nodes: { nodeId: string }[] };
      expect(nodes.map((n) => n.nodeId)).toEqual([String(stack.ioNodes[0]!.ready.nodeId)]);
    }
    stacks.splice(0);
    await Promise.all([one.stop(), two.stop()]);
    expect(await keysOf(one.prefix)).toEqual([]);
    expect(await keysOf(two.prefix)).toEqual([]);
  });
});
