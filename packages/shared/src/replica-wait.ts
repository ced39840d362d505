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

/** Does `wait` ask for any replica at all (`REDIS_WAIT_REPLICAS` above 0)? */
export function waitsForReplicas(wait: ReplicaWait | undefined): wait is ReplicaWait {
  return wait !== undefined && wait.replicas > 0;
}

/** Closes seen per connection, counted from the first time anyone asked (see {@link connectionGeneration}). */
const generations = new WeakMap<RedisConnection, { closes: number }>();

/**
 * How many times `connection` has closed since this was first asked of it: take it before the writes a
 * replica wait is to cover, and give it to {@link waitForReplicas}. ioredis sends a command again on the
 * new connection when the old one closed before its reply, and after a failover that connection is to
 * the new primary: a `WAIT` there counts the replicas of what the new primary has, not of the writes
 * made on the old one, which the failover may have dropped.
 */
export function connectionGeneration(connection: RedisConnection): number {
  let seen = generations.get(connection);
  if (!seen) {
    const counter = { closes: 0 };
    seen = counter;
    generations.set(connection, counter);
    connection.on('close', () => {
      counter.closes++;
    });
  }
  return seen.closes;
}

/**
 * Waits until `wait.replicas` replicas have every write this connection made since `since` (its
 * {@link connectionGeneration} taken before those writes); throws a `REPLICATION_TIMEOUT` error
 * (transient: callers write again) if fewer had them within the timeout, or if the connection closed
 * since `since`: the writes then went to a server that may be gone, and a `WAIT` on the new connection
 * would not cover them. Does nothing when `wait` is undefined or asks for no replica. Must run on the
 * connection that wrote.
 */
export async function waitForReplicas(
  connection: RedisConnection,
  wait: ReplicaWait | undefined,
  since: number,
): Promise<void> {
  if (!waitsForReplicas(wait)) return;
  const reconnected = () =>
    new IoclusterError(
      'REPLICATION_TIMEOUT',
      'the connection to Redis closed after the write and before its replicas were counted',
    );
  if (connectionGeneration(connection) !== since) throw reconnected();
  // A close while the WAIT is out ends the wait at once: what ioredis answers later comes from whichever
  // server the connection reached next.
  let onClose = () => {};
  const closed = new Promise<never>((_, reject) => {
    onClose = () => reject(reconnected());
  });
  connection.once('close', onClose);
  const waited = connection.wait(wait.replicas, wait.timeoutMs);
  waited.catch(() => undefined);
  let acknowledged: number;
  try {
    acknowledged = await Promise.race([waited, closed]);
  } finally {
    connection.off('close', onClose);
  }
  if (acknowledged < wait.replicas) {
    throw new IoclusterError(
      'REPLICATION_TIMEOUT',
      `only ${acknowledged} of ${wait.replicas} replicas acknowledged the write within ${wait.timeoutMs} ms`,
    );
  }
}
