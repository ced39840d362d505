import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import {
  DevkitError,
  type ForkedProcess,
  forkProcess,
  freePort,
  type RedisServer,
  redisReachable,
  startRedisServer,
} from '../src/index.js';
import { redisCommand } from '../src/redis-probe.js';

const CHILD = fileURLToPath(new URL('./fixtures/child.mjs', import.meta.url));
const servers: RedisServer[] = [];
const children: ForkedProcess[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
  await Promise.all(children.splice(0).map((child) => child.kill('SIGKILL')));
});

async function redis(options?: Parameters<typeof startRedisServer>[0]): Promise<RedisServer> {
  const server = await startRedisServer(options);
  servers.push(server);
  return server;
}

/** The rejection of `promise`, which must reject. */
async function rejection(promise: Promise<unknown>): Promise<DevkitError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DevkitError);
  return err as DevkitError;
}

describe('devkit', () => {
  test('freePort - a port nothing listens on yet', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(await redisReachable(`redis://127.0.0.1:${port}`, 500)).toBe(false);
  });

  test('redis-server - answers on its port with its version, flushes, and starts again on the same port', async () => {
    const server = await redis();
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    expect(server.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(await redisReachable(server.url)).toBe(true);
    expect(await redisCommand(server.url, ['SET', 'k', 'v'])).toBe('OK');
    expect(await redisCommand(server.url, ['GET', 'k'])).toBe('v');
    await server.flush();
    expect(await redisCommand(server.url, ['GET', 'k'])).toBeNull();

    const firstPid = server.pid;
    await server.stop();
    expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await redisReachable(server.url, 500)).toBe(false);
    await server.start();
    expect(server.pid).not.toBe(firstPid);
    expect(await redisCommand(server.url, ['DBSIZE'])).toBe(0);
  });

  test('redis-server - at a quiet loglevel it is ready once INFO reports its own pid', async () => {
    const lines: string[] = [];
    const server = await redis({ args: ['--loglevel', 'warning'], output: (line) => lines.push(line) });
    expect(lines.some((line) => line.includes('Ready to accept connections'))).toBe(false);
    expect(await redisReachable(server.url)).toBe(true);
  });

  test('redis-server - a port another Redis holds: exits before ready, with its last lines', async () => {
    const first = await redis();
    const err = await rejection(startRedisServer({ port: first.port, args: ['--loglevel', 'warning'] }));
    expect(err.code).toBe('EXITED_BEFORE_READY');
    expect(err.message).toContain(`before it was ready on port ${first.port}`);
    expect(err.message).toMatch(/address already in use/i);
  });

  test('forkProcess - resolves with the ready message; kill waits for the exit', async () => {
    const lines: string[] = [];
    const child = await forkProcess({
      label: 'ready-child',
      module: CHILD,
      args: ['ready'],
      output: (line) => lines.push(line),
    });
    children.push(child);
    expect(child.label).toBe('ready-child');
    expect(child.pid).toBe(child.child.pid);
    expect(child.ready).toEqual({ type: 'ready', answer: 42 });
    await child.kill();
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(lines).toEqual(['starting']);
    expect(child.tail()).toBe('starting');
  });

  test('forkProcess - a child that exits first rejects with its exit code and last lines', async () => {
    const err = await rejection(forkProcess({ label: 'bad-child', module: CHILD, args: ['fail'] }));
    expect(err.code).toBe('EXITED_BEFORE_READY');
    expect(err.message).toMatch(/^bad-child exited \(3\) before it was ready:\n/);
    expect(err.message.split('\n').slice(1).sort()).toEqual(['boom: no config', 'loading config']);
  });

  test('forkProcess - a child not ready in time is killed and the start rejects', async () => {
    const err = await rejection(
      forkProcess({ label: 'slow-child', module: CHILD, args: ['silent'], readyTimeoutMs: 300 }),
    );
    expect(err.code).toBe('READY_TIMEOUT');
    expect(err.message).toBe('slow-child was not ready within 300 ms');
  });
});
