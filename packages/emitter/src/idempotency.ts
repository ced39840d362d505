import { randomBytes } from 'node:crypto';
import { IoclusterError, type Keys, type RedisConnection } from '@iocluster/shared';

/** What a key holds: a run under way (with its owner's token), or the answer of the one that finished. */
type Stored = { pending: string } | { answer: unknown };

/** The outcome of {@link Idempotency.run}. */
export interface IdempotentRun<T> {
  answer: T;
  /** True when the answer is an earlier run's: nothing ran this time. */
  repeated: boolean;
}

/**
 * Runs a request at most once per idempotency key within a window, across processes: the first caller
 * claims the key in Redis (`SET NX PX`), runs, and stores its answer under the key for the rest of the
 * window; a caller with the same key meanwhile gets that answer without running. A run that fails
 * releases its key, so the request can be retried; a caller that arrives while the first run is still
 * under way gets `IN_PROGRESS` (retry shortly) rather than running it a second time.
 */
export interface Idempotency {
  run<T>(key: string, fn: () => Promise<T>): Promise<IdempotentRun<T>>;
}

export function createIdempotency(redis: RedisConnection, keys: Keys, windowMs: number): Idempotency {
  return {
    async run<T>(key: string, fn: () => Promise<T>): Promise<IdempotentRun<T>> {
      const name = keys.idempotency(key);
      const token = randomBytes(8).toString('hex');
      const mine = JSON.stringify({ pending: token } satisfies Stored);
      const claimed = await redis.set(name, mine, 'PX', windowMs, 'NX');
      if (claimed !== 'OK') {
        const raw = await redis.get(name);
        // Expired between the two commands: the window is over, so this run is a first one again.
        if (raw === null) return this.run(key, fn);
        const stored = JSON.parse(raw) as Stored;
        if ('answer' in stored) return { answer: stored.answer as T, repeated: true };
        throw new IoclusterError(
          'IN_PROGRESS',
          `a request with idempotency key "${key}" is still running; retry it shortly`,
        );
      }
      let answer: T;
      try {
        answer = await fn();
      } catch (err) {
        if ((await redis.get(name).catch(() => null)) === mine) await redis.del(name).catch(() => 0);
        throw err;
      }
      // KEEPTTL: the window counts from the first request, not from when its run finished.
      await redis.set(name, JSON.stringify({ answer } satisfies Stored), 'KEEPTTL', 'XX');
      return { answer, repeated: false };
    },
  };
}
