import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logger.js';
import { markClosedOnPurpose, type RedisConnection } from './redis.js';

/** One named step of a component's `close()`. */
export type CloseStep = readonly [name: string, run: () => unknown];

/**
 * Runs every step of a `close()` in order, even when one fails (BullMQ's `Worker.close` habit): a failure
 * is logged with the step's name and the next step runs.
 */
export async function runCloseSteps(
  steps: readonly CloseStep[],
  logger: Logger,
  component: string,
): Promise<void> {
  for (const [name, run] of steps) {
    const running = { component, step: name };
    stepsRunning.add(running);
    try {
      await run();
    } catch (err) {
      logger.warn({ err, step: name }, `${component} close step failed`);
    } finally {
      stepsRunning.delete(running);
    }
  }
}

/** Close steps under way in this process, for a shutdown that runs out of time to say where it stood. */
const stepsRunning = new Set<{ readonly component: string; readonly step: string }>();

/** The close steps ({@link runCloseSteps}) started in this process and not finished: `component: step`. */
export function closeStepsRunning(): string[] {
  return [...stepsRunning].map(({ component, step }) => `${component}: ${step}`);
}

/** Resolves when `promise` settles or `ms` have passed, whichever is first; never rejects. */
export function settleWithin(promise: PromiseLike<unknown> | undefined, ms: number): Promise<void> {
  if (!promise) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    promise.then(done, done);
  });
}

/**
 * QUIT when connected (pending replies still arrive), waiting at most `waitMs`; then drop the connection
 * and its reconnect timer, so a close during a Redis outage does not hang.
 */
export async function closeRedis(connection: RedisConnection | undefined, waitMs = 1_000): Promise<void> {
  if (!connection) return;
  markClosedOnPurpose(connection);
  if (connection.status === 'ready') await settleWithin(connection.quit(), waitMs);
  connection.disconnect();
}

/** A promise with its settle functions (Node 20 has no `Promise.withResolvers`). */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

/**
 * Creates a {@link Deferred}. Its promise never raises an unhandled rejection by itself, for results that
 * callers may or may not await; awaiting it still rejects.
 */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** Listens on `host:port` (0 picks a free port); resolves with the port listened on, rejects on error. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** A task run every so often by {@link repeat}. */
export interface Repeating {
  /** Stops the timer; resolves once a run in progress has ended. */
  stop(): Promise<void>;
}

/**
 * Runs `task` every `intervalMs` (an unref'd timer), never two at once: a tick that finds the last run
 * still going is skipped. A failed run is logged as `failure` and the next tick tries again.
 */
export function repeat(
  intervalMs: number,
  task: () => Promise<unknown>,
  logger: Logger,
  failure: string,
): Repeating {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = task()
      .catch((err: unknown) => logger.warn({ err }, failure))
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
