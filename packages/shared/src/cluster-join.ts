import { type ClusterMembership, joinCluster } from './cluster-id.js';
import type { Keys } from './keys.js';
import type { Logger } from './logger.js';
import { openRedis, type RedisConnection, type RedisTarget } from './redis.js';
import { waitForRedis } from './redis-wait.js';

/*
 * What a node's start() does before it touches Redis: open its connections, wait until every one answers
 * (saying once which Redis and why not), then join the stack on its key prefix (cluster-id.ts).
 */

/** Options of {@link joinWhenReachable}. */
export interface JoinWhenReachableOptions {
  /** Where the connections point, for the log line and `/readyz`. */
  target: RedisTarget | string;
  keys: Keys;
  prefix: string;
  /** `CLUSTER_ID`, or undefined to join the recorded stack. */
  clusterId: string | undefined;
  logger: Logger;
  /** Gives up when aborted (a close during the start). */
  signal?: AbortSignal;
}

/** A node reaching Redis and joining its stack. */
export interface ClusterJoin {
  /** Why the node cannot go on yet (for `/readyz`), or undefined once Redis answers. */
  reason(): string | undefined;
  /** Resolves once Redis answers and the stack's id matches; rejects as the wait or the join fails. */
  readonly joined: Promise<ClusterMembership>;
  /** Stops the membership's refresh (also one that joins after this is called). */
  close(): Promise<void>;
}

/** Opens `connections`, waits for all of them, then joins the stack through the first. */
export function joinWhenReachable(
  connections: readonly RedisConnection[],
  options: JoinWhenReachableOptions,
): ClusterJoin {
  const [first] = connections;
  if (!first) throw new TypeError('joinWhenReachable needs a connection');
  for (const connection of connections) openRedis(connection);
  const { target, logger, signal, keys, prefix, clusterId } = options;
  const wait = waitForRedis(connections, { target, logger, ...(signal ? { signal } : {}) });
  let closed = false;
  let membership: ClusterMembership | undefined;
  const joined = wait.ready.then(async () => {
    const joinedNow = await joinCluster(first, keys, { clusterId, prefix, logger });
    membership = joinedNow;
    if (closed) await joinedNow.close();
    return joinedNow;
  });
  joined.catch(() => undefined);
  return {
    reason: wait.reason,
    joined,
    async close() {
      closed = true;
      await membership?.close();
    },
  };
}
