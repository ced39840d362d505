import { IoclusterError } from './errors.js';
import type { RedisConnection } from './redis.js';

/**
 * `WAIT` after an acknowledged write (`REDIS_WAIT_REPLICAS`, `REDIS_WAIT_TIMEOUT_MS`): the write counts
 * as done only once that many replicas have it, so a failover to a replica cannot lose it. Redis
 * replicates asynchronously; without this, a primary that dies (or is demoted by a failover) right after
 * acknowledging a write may take it along. Standalone and Sentinel only: a Cluster connection would send
 * the WAIT to any primary, not the one that took the write.
 */
export interface ReplicaWait {
  /** Replicas that must have the write; 0 turns the wait off. */
  readonly replicas: number;
  /** How long to wait for them before the write counts as failed (and is retried). */
  readonly timeoutMs: number;
}

/**
 * Waits until `wait.replicas` replicas have every write this connection made so far; throws a
 * `REPLICATION_TIMEOUT` error (transient: callers retry the write) if fewer had it within the timeout.
 * Does nothing when `wait` is undefined or asks for no replica. Must run on the connection that wrote.
 */
export async function waitForReplicas(
  connection: RedisConnection,
  wait: ReplicaWait | undefined,
): Promise<void> {
  if (!wait || wait.replicas === 0) return;
  const acknowledged = await connection.wait(wait.replicas, wait.timeoutMs);
  if (acknowledged < wait.replicas) {
    throw new IoclusterError(
      'REPLICATION_TIMEOUT',
      `only ${acknowledged} of ${wait.replicas} replicas acknowledged the write within ${wait.timeoutMs} ms`,
    );
  }
}
