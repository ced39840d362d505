import {
  type AppNodeRecord,
  appNodeLiveness,
  isTransientRedisError,
  type Keys,
  type Logger,
  type RedisConnection,
  removeLiveness,
  settleWithin,
  writeLiveness,
} from '@iocluster/shared';

export interface AppRegistryOptions {
  /** A command connection the registry borrows (it does not close it). */
  redis: RedisConnection;
  keys: Keys;
  nodeId: string;
  concurrency: number;
  version: string;
  /** Where its `/metrics` is served, read at each heartbeat; '' for none. */
  metricsUrl(): string;
  /** Current jobs/s and events/s. */
  rates(): { jobsPerSecond: number; eventsPerSecond: number };
  heartbeatIntervalMs: number;
  heartbeatTtlMs: number;
  logger: Logger;
}

/**
 * An app-node's liveness record (what the admin view lists; see `LivenessKind` in shared): written every
 * `heartbeatIntervalMs` with a TTL of `heartbeatTtlMs`, so a crashed app-node drops out within the TTL;
 * removed on close.
 * Failures are logged once per distinct error and retried at the next heartbeat: an app-node keeps
 * working without its record.
 */
export interface AppRegistry {
  /** Writes the first record (failure is logged, not thrown) and starts heartbeats. */
  start(): Promise<void>;
  /** Stops heartbeats and removes the record. Idempotent. */
  close(): Promise<void>;
}

/** Longest a close step waits on Redis. */
const CLOSE_WAIT_MS = 1_000;

export function createAppRegistry(options: AppRegistryOptions): AppRegistry {
  const { redis, keys, nodeId, heartbeatIntervalMs, heartbeatTtlMs } = options;
  const logger = options.logger.child({ component: 'app-node:registry' });
  const kind = appNodeLiveness(keys);
  const startedAt = Date.now();
  let timer: NodeJS.Timeout | undefined;
  let beating: Promise<void> | undefined;
  let lastFailure = '';
  let closing: Promise<void> | undefined;

  async function beat(): Promise<void> {
    const now = Date.now();
    const record: AppNodeRecord = {
      nodeId,
      concurrency: options.concurrency,
      ...options.rates(),
      startedAt,
      version: options.version,
      lastSeen: now,
      metricsUrl: options.metricsUrl(),
    };
    await writeLiveness(redis, kind, { nodeId, now, ttlMs: heartbeatTtlMs, record });
  }

  function heartbeat(): Promise<void> {
    beating ??= beat()
      .then(
        () => {
          if (lastFailure) logger.info('app-node registry heartbeat written again');
          lastFailure = '';
        },
        (err: unknown) => {
          const message = err instanceof Error ? err.message : String(err);
          if (message !== lastFailure) {
            logger[isTransientRedisError(err) ? 'warn' : 'error'](
              { err },
              'registry heartbeat failed; retrying',
            );
          }
          lastFailure = message;
        },
      )
      .finally(() => {
        beating = undefined;
      });
    return beating;
  }

  return {
    async start() {
      await heartbeat();
      timer = setInterval(() => void heartbeat(), heartbeatIntervalMs);
    },
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        await settleWithin(beating, CLOSE_WAIT_MS);
        if (redis.status !== 'ready') return;
        await settleWithin(
          removeLiveness(redis, kind, nodeId).catch((err: unknown) =>
            logger.warn({ err }, 'could not remove the registry record; it expires on its own'),
          ),
          CLOSE_WAIT_MS,
        );
      })();
      return closing;
    },
  };
}
