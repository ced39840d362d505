import type { Logger } from './logger.js';
import type { RedisConnection } from './redis.js';

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
    try {
      await run();
    } catch (err) {
      logger.warn({ err, step: name }, `${component} close step failed`);
    }
  }
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
  if (connection.status === 'ready') await settleWithin(connection.quit(), waitMs);
  connection.disconnect();
}
