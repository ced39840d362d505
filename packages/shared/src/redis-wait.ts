import type { Logger } from './logger.js';
import type { RedisConnection, RedisTarget } from './redis.js';

/**
 * Where a Redis target points, as a person would write it and without its password:
 * `redis://127.0.0.1:6379/0`, `sentinel "mymaster" via 10.0.0.1:26379,10.0.0.2:26379`,
 * `cluster 10.0.0.1:7000,10.0.0.2:7000`.
 */
export function describeRedisTarget(target: RedisTarget | string): string {
  const resolved: RedisTarget = typeof target === 'string' ? { kind: 'standalone', url: target } : target;
  if (resolved.kind === 'sentinel') {
    return `sentinel "${resolved.name}" via ${resolved.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
  }
  if (resolved.kind === 'cluster') {
    return `cluster ${resolved.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  }
  try {
    const url = new URL(resolved.url);
    url.password = '';
    url.username = '';
    return url.href;
  } catch {
    return '(a malformed Redis URL)';
  }
}

/** Options of {@link waitForRedis}. */
export interface WaitForRedisOptions {
  /** Where the connections point: named (without password) in the log line and the reason. */
  target: RedisTarget | string;
  logger: Logger;
  /** Gives up (rejects with the signal's reason) when aborted: a shutdown during the wait. */
  signal?: AbortSignal;
  /** How long the connections may take before the wait is logged; a refusal is logged at once. @defaultValue 1000 */
  quietMs?: number;
}

/** A wait for Redis started by {@link waitForRedis}. */
export interface RedisWait {
  /** Resolves once every connection is ready. */
  readonly ready: Promise<void>;
  /** Why the node is not ready yet (for `/readyz`), or undefined once every connection is. */
  reason(): string | undefined;
}

/**
 * Waits until every connection is ready, without sending a command (a command queued meanwhile would
 * fail after ioredis' retries and end the start with an error that names no server). Says once, at
 * warn, which Redis it is trying and why it does not answer, and once more when it does.
 */
export function waitForRedis(
  connections: readonly RedisConnection[],
  options: WaitForRedisOptions,
): RedisWait {
  const where = describeRedisTarget(options.target);
  let lastError: string | undefined;
  let said = false;
  const pending = () => connections.filter((connection) => connection.status !== 'ready');
  const reason = () => {
    if (pending().length === 0) return undefined;
    return `waiting for Redis at ${where}: ${lastError ?? 'connecting'}`;
  };
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => say(), options.quietMs ?? 1_000);
    const say = () => {
      if (said || pending().length === 0) return;
      said = true;
      options.logger.warn(
        { redis: where, reason: lastError ?? 'no answer yet' },
        `${reason()}; not ready until it answers (check REDIS_URL, or REDIS_SENTINELS / REDIS_CLUSTER_NODES)`,
      );
    };
    const onError = (err: Error) => {
      lastError = err.message || (err as { code?: string }).code || String(err);
      say();
    };
    const onReady = () => {
      if (pending().length > 0) return;
      done();
      if (said) options.logger.info({ redis: where }, `Redis at ${where} answers`);
      resolve();
    };
    const onAbort = () => {
      done();
      reject(options.signal?.reason ?? new Error('aborted'));
    };
    const done = () => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      for (const connection of connections) {
        connection.off('error', onError);
        connection.off('ready', onReady);
      }
    };
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort);
    for (const connection of connections) {
      connection.on('error', onError);
      connection.on('ready', onReady);
    }
    onReady();
  });
  ready.catch(() => undefined);
  return { ready, reason };
}
