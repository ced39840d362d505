import { freePort, startTcpProxy, type TcpProxy } from '@iocluster/devkit';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { isRunning, outputLines, startEntryPoint, testPrefix } from './support/entry-points.js';
import { until } from './support/poll.js';

const proxies: TcpProxy[] = [];
const pids: number[] = [];
afterEach(async () => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone, as it should be.
    }
  }
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

/** Resolves with how long after `since` the process `pid` was gone. */
async function goneAfter(pid: number, since: number, deadlineMs: number): Promise<number> {
  await until(
    async () => isRunning(pid),
    (running) => !running,
    deadlineMs,
  );
  return Date.now() - since;
}

async function readyz(port: number): Promise<{ status: number; body: { reasons?: string[] } }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: (await res.json()) as { reasons?: string[] } };
}

describe('shutdown', () => {
  test('shutdown - an io-node waiting for Redis says once which Redis and why, answers /readyz with it, and ends at once on SIGTERM', async () => {
    const proxy = await startTcpProxy({ port: Number(new URL(inject('redisUrl')).port) });
    proxies.push(proxy);
    proxy.cut();
    const port = await freePort();
    const out = outputLines();
    const starting = startEntryPoint('io-node', {
      env: {
        REDIS_URL: `redis://:s3cret-pw@127.0.0.1:${proxy.port}`,
        IOCLUSTER_PREFIX: testPrefix(),
        IO_NODE_HOST: '127.0.0.1',
        IO_NODE_PORT: String(port),
      },
      output: out,
    });
    starting.catch(() => undefined);
    const waiting = await out.waitFor((record) => String(record.msg).startsWith('waiting for Redis'));
    pids.push(Number(waiting.pid));
    const where = `redis://127.0.0.1:${proxy.port}`;
    expect(waiting).toMatchObject({ level: 40, redis: where });
    expect(String(waiting.msg)).toMatch(
      new RegExp(`^waiting for Redis at ${where}: .*(ECONNRESET|ECONNREFUSED|closed)`),
    );

    // The health endpoint answers while it waits, with the reason.
    const answer = await readyz(port);
    expect(answer.status).toBe(503);
    expect(answer.body.reasons).toEqual([
      'not started',
      expect.stringMatching(new RegExp(`^waiting for Redis at ${where}: `)),
    ]);
    // Several retries later (ioredis retries every 2 s at most), still that one line about it.
    const since = Date.now();
    await until(
      () => readyz(port),
      () => Date.now() - since > 4_500,
      10_000,
    );
    expect(out.records.filter((record) => String(record.msg).startsWith('waiting for Redis'))).toHaveLength(
      1,
    );
    expect(out.records.filter((record) => record.msg === 'ingress queue error')).toEqual([]);
    expect(out.lines.filter((line) => line.includes('s3cret-pw'))).toEqual([]);

    // One SIGTERM ends it, well within its bound, and without an error.
    const signalled = Date.now();
    process.kill(Number(waiting.pid), 'SIGTERM');
    expect(await goneAfter(Number(waiting.pid), signalled, 10_000)).toBeLessThan(8_000);
    await expect(starting).rejects.toThrow(/exited \(0\) before it was ready/);
    expect(out.records.filter((record) => Number(record.level) >= 50)).toEqual([]);
  });

  test('shutdown - an app-node whose Redis went away ends within its bound on SIGTERM and says what it could not finish', async () => {
    const proxy = await startTcpProxy({ port: Number(new URL(inject('redisUrl')).port) });
    proxies.push(proxy);
    const out = outputLines();
    const app = await startEntryPoint('app-node', {
      args: ['test/fixtures/test-app.ts'],
      env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, IOCLUSTER_PREFIX: testPrefix() },
      output: out,
    });
    pids.push(app.pid);
    proxy.cut();
    await out.waitFor((record) => record.msg === 'redis connection error');
    const signalled = Date.now();
    app.child.kill('SIGTERM');
    const status = await app.exited;
    const tookMs = Date.now() - signalled;
    expect(tookMs).toBeLessThan(25_000 + 5_000);
    const gaveUp = out.records.filter((record) => String(record.msg).startsWith('shutdown did not finish'));
    if (status.code === 0) {
      // It finished everything in time: nothing to report.
      expect(gaveUp).toEqual([]);
      return;
    }
    expect(status).toEqual({ code: 1, signal: null });
    expect(tookMs).toBeGreaterThanOrEqual(25_000);
    expect(gaveUp).toEqual([
      expect.objectContaining({
        level: 50,
        boundMs: 25_000,
        unfinished: [expect.stringMatching(/^app-node: /)],
      }),
    ]);
  });
});
