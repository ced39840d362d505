import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, describe, expect, test } from 'vitest';
import { createWorkerSupervisor, IoclusterError, type WorkerSupervisor } from '../src/index.js';

const WORKER = fileURLToPath(new URL('./fixtures/worker.mjs', import.meta.url));
let supervisor: WorkerSupervisor | undefined;
afterEach(async () => {
  await supervisor?.close();
  supervisor = undefined;
});

/** A pino logger whose lines are kept; `waitFor(n, msg)` resolves once n lines with that msg arrived. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  const logger = pino(
    { level: 'info' },
    {
      write(text: string) {
        lines.push(JSON.parse(text) as Record<string, unknown>);
        for (const wake of waiters.splice(0)) wake();
      },
    },
  );
  const count = (msg: string) => lines.filter((line) => line.msg === msg);
  return {
    logger,
    lines,
    async waitFor(n: number, msg: string): Promise<Record<string, unknown>[]> {
      while (count(msg).length < n) await new Promise<void>((resolve) => waiters.push(resolve));
      return count(msg);
    },
  };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('worker supervisor', () => {
  test('worker supervisor - a worker that keeps crashing is restarted with doubling, bounded delays', async () => {
    const log = capturingLogger();
    supervisor = createWorkerSupervisor({
      workers: 1,
      module: WORKER,
      env: { ...process.env, FIXTURE_MODE: 'crash' },
      workerEnv: (index, incarnation) => ({ FIXTURE_TAG: `${index}.${incarnation}` }),
      restartMinMs: 20,
      restartMaxMs: 80,
      logger: log.logger,
    });
    const [first] = await supervisor.start();
    expect(first).toMatchObject({ index: 0, incarnation: 0, details: { index: 0, tag: '0.0' } });
    const crashes = await log.waitFor(5, 'worker exited; restarting it');
    expect(crashes.slice(0, 5).map((line) => line.restartInMs)).toEqual([20, 40, 80, 80, 80]);
    expect(crashes.slice(0, 5).map((line) => line.code)).toEqual([3, 3, 3, 3, 3]);
    const restarts = await log.waitFor(4, 'worker restarted');
    expect(restarts.slice(0, 4).map((line) => line.tag)).toEqual(['0.1', '0.2', '0.3', '0.4']);
  });

  test('worker supervisor - a worker that fails to start stops the others and rejects WORKER_FAILED', async () => {
    const log = capturingLogger();
    supervisor = createWorkerSupervisor({
      workers: 2,
      module: WORKER,
      env: process.env,
      workerEnv: (index) => ({ FIXTURE_MODE: index === 1 ? 'fail' : 'serve' }),
      logger: log.logger,
    });
    const started = supervisor.start();
    await expect(started).rejects.toThrow(IoclusterError);
    await expect(started).rejects.toMatchObject({
      code: 'WORKER_FAILED',
      message: expect.stringMatching(/worker 1 .* exited \(2\) before it was ready/),
    });
    // Worker 0 was stopped, not left running: nothing is up, and nothing was restarted.
    expect(supervisor.workers).toEqual([]);
    expect(log.lines.some((line) => line.msg === 'worker exited; restarting it')).toBe(false);
  });

  test('worker supervisor - close() sends SIGTERM to every worker and waits for their exits; idempotent', async () => {
    const log = capturingLogger();
    supervisor = createWorkerSupervisor({
      workers: 2,
      module: WORKER,
      env: { ...process.env, FIXTURE_MODE: 'serve' },
      logger: log.logger,
    });
    const workers = await supervisor.start();
    expect(workers.map((w) => w.index)).toEqual([0, 1]);
    expect(workers.every((w) => isRunning(w.pid))).toBe(true);
    await Promise.all([supervisor.close(), supervisor.close()]);
    expect(workers.filter((w) => isRunning(w.pid))).toEqual([]);
    expect(supervisor.workers).toEqual([]);
    expect(log.lines.map((line) => line.msg)).toEqual([
      'workers ready',
      'stopping workers',
      'workers stopped',
    ]);
  });
});
