import { randomBytes } from 'node:crypto';
import { ConfigError } from './errors.js';
import type { Keys } from './keys.js';
import { type Repeating, repeat } from './lifecycle.js';
import type { Logger } from './logger.js';
import type { RedisConnection } from './redis.js';

/*
 * Two stacks started on one Redis with the same key prefix would merge without a word: one frontend
 * listing the io-nodes of both, app-nodes consuming each other's events. So the prefix records the id of
 * the stack that uses it (SET NX at its first start), every node checks it at start and again while it
 * runs, and a node of another stack refuses to start.
 */

/** How long the record outlives the last node that refreshed it: a stack gone for a day frees its prefix. */
export const CLUSTER_ID_TTL_MS = 24 * 3_600_000;
/** How often a running node refreshes the record (and checks it is still its stack's). */
const REFRESH_INTERVAL_MS = 60_000;

/** Options of {@link joinCluster}. */
export interface JoinClusterOptions {
  /**
   * `CLUSTER_ID`: the stack's id. Given, a prefix recorded with another id refuses the node; not given,
   * the node joins whatever stack uses the prefix (or records a generated id if none does).
   */
  clusterId: string | undefined;
  /** The key prefix, for messages. */
  prefix: string;
  logger: Logger;
  /** @defaultValue 60000 */
  refreshIntervalMs?: number;
}

/** A node's membership of the stack on its prefix; `close()` stops the refresh. */
export interface ClusterMembership {
  readonly clusterId: string;
  close(): Promise<void>;
}

/**
 * Records or checks the stack id under the prefix; rejects with a {@link ConfigError} naming `CLUSTER_ID`
 * when another stack uses the prefix. The record expires {@link CLUSTER_ID_TTL_MS} after the last refresh,
 * so a failed start leaves nothing behind for good.
 */
export async function joinCluster(
  redis: RedisConnection,
  keys: Keys,
  options: JoinClusterOptions,
): Promise<ClusterMembership> {
  const wanted = options.clusterId ?? `c-${randomBytes(6).toString('hex')}`;
  const claimed = await redis.set(keys.clusterId, wanted, 'PX', CLUSTER_ID_TTL_MS, 'NX');
  const recorded = claimed === 'OK' ? wanted : await redis.get(keys.clusterId);
  const clusterId = recorded ?? wanted;
  if (options.clusterId !== undefined && recorded !== null && recorded !== options.clusterId) {
    throw new ConfigError(mismatch(options.clusterId, recorded, options.prefix));
  }
  if (recorded === null) await redis.set(keys.clusterId, clusterId, 'PX', CLUSTER_ID_TTL_MS);
  else await redis.pexpire(keys.clusterId, CLUSTER_ID_TTL_MS);
  options.logger.info(
    { clusterId, prefix: options.prefix },
    claimed === 'OK'
      ? 'recorded this stack as the user of the key prefix'
      : 'joined the stack on the key prefix',
  );
  const refresh: Repeating = repeat(
    options.refreshIntervalMs ?? REFRESH_INTERVAL_MS,
    async () => {
      const now = await redis.get(keys.clusterId);
      if (now !== null && now !== clusterId) {
        options.logger.error(
          { clusterId, other: now, prefix: options.prefix },
          `another stack took over the key prefix: ${mismatch(clusterId, now, options.prefix)}`,
        );
        return;
      }
      await redis.set(keys.clusterId, clusterId, 'PX', CLUSTER_ID_TTL_MS);
    },
    options.logger,
    'refreshing the cluster id failed; retrying',
  );
  return { clusterId, close: () => refresh.stop() };
}

function mismatch(mine: string, recorded: string, prefix: string): string {
  return (
    `CLUSTER_ID is "${mine}" but the key prefix "${prefix}" on this Redis is used by the stack "${recorded}"; ` +
    `give this stack its own IOCLUSTER_PREFIX, or set CLUSTER_ID=${recorded} if it is part of that stack`
  );
}
