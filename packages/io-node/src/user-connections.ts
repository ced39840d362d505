import {
  type Keys,
  type Logger,
  loadLuaScript,
  type RedisConnection,
  type Repeating,
  refusal,
  repeat,
} from '@iocluster/shared';

const CONNECT = loadLuaScript(import.meta.url, 'user-connect');
const PURGE_NODE = loadLuaScript(import.meta.url, 'user-purge-node');

/**
 * `MAX_CONNECTIONS_PER_USER` across the cluster. Per user, a hash of its connections (socket id →
 * io-node) that one Lua script checks and grows at each handshake (user-connect.lua), so two io-nodes
 * admitting the same user at once cannot both take its last place. Per io-node, a set of the users it
 * holds entries of, and one set of such io-nodes, so a dead node's entries are found and removed: at once
 * by every live node that sees it expire (`purgeNode` on `peer-expired`), and by a sweep every heartbeat
 * that also finishes a purge whose purger died. The index is written before the user's entry and cleared
 * after it, so no entry is left without one. A user's writes on this node go one after another.
 */
export interface UserConnections {
  /**
   * Takes a place for `socketId` of `userId`, or throws the USER_CONNECTION_LIMIT refusal. The caller
   * gives it back with `release` when the connection ends (or its handshake fails later).
   */
  admit(socketId: string, userId: string): Promise<void>;
  /** The connection ended: its place goes. */
  release(socketId: string): void;
  /** Removes a dead io-node's entries. */
  purgeNode(nodeId: string): Promise<void>;
  /** Writes every local entry again (peers purged them while this node was taken for dead). */
  reassert(): void;
  /** Removes a previous life's entries, then sweeps dead peers' entries every `sweepIntervalMs`. */
  start(): Promise<void>;
  /** Stops the sweep and removes this node's entries (one attempt). Idempotent. */
  close(): Promise<void>;
}

export interface UserConnectionsOptions {
  redis: RedisConnection;
  keys: Keys;
  nodeId: string;
  maxPerUser: number;
  /** Whether an io-node counts as live, after a fresh look at the liveness records. */
  liveNodes: () => Promise<(nodeId: string) => boolean>;
  sweepIntervalMs: number;
  logger: Logger;
}

export function createUserConnections(options: UserConnectionsOptions): UserConnections {
  const { redis, keys, nodeId, maxPerUser, logger } = options;
  /** socket id → user id, for this node's counted connections. */
  const local = new Map<string, string>();
  /** user id → its connections counted here. */
  const perUser = new Map<string, number>();
  const chains = new Map<string, Promise<void>>();
  let sweep: Repeating | undefined;
  let closing: Promise<void> | undefined;

  /** Runs a user's Redis work behind its earlier work on this node. */
  function inOrder<T>(userId: string, op: () => Promise<T>): Promise<T> {
    const run = (chains.get(userId) ?? Promise.resolve()).then(op);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    chains.set(userId, tail);
    void tail.then(() => {
      if (chains.get(userId) === tail) chains.delete(userId);
    });
    return run;
  }

  async function purgeNode(dead: string): Promise<void> {
    const users = await redis.smembers(keys.nodeUsers(dead));
    await Promise.all(users.map((user) => PURGE_NODE.run(redis, [keys.userConnections(user)], [dead])));
    await redis.del(keys.nodeUsers(dead));
    await redis.srem(keys.userNodes, dead);
    if (users.length > 0)
      logger.info({ dead, users: users.length }, 'user connections of a dead io-node removed');
  }

  async function sweepOnce(): Promise<void> {
    const [holders, isLive] = await Promise.all([redis.smembers(keys.userNodes), options.liveNodes()]);
    await Promise.all(holders.filter((id) => id !== nodeId && !isLive(id)).map(purgeNode));
  }

  return {
    async admit(socketId, userId) {
      await inOrder(userId, async () => {
        await redis.sadd(keys.userNodes, nodeId);
        await redis.sadd(keys.nodeUsers(nodeId), userId);
        const admitted = await CONNECT.run(
          redis,
          [keys.userConnections(userId)],
          [socketId, nodeId, maxPerUser],
        );
        if (admitted !== 1) {
          throw refusal(
            'USER_CONNECTION_LIMIT',
            `this user holds its maximum of ${maxPerUser} connections across the cluster`,
          );
        }
        local.set(socketId, userId);
        perUser.set(userId, (perUser.get(userId) ?? 0) + 1);
      });
    },
    release(socketId) {
      const userId = local.get(socketId);
      if (userId === undefined) return;
      local.delete(socketId);
      const left = (perUser.get(userId) ?? 1) - 1;
      if (left > 0) perUser.set(userId, left);
      else perUser.delete(userId);
      inOrder(userId, async () => {
        await redis.hdel(keys.userConnections(userId), socketId);
        if (!perUser.has(userId)) await redis.srem(keys.nodeUsers(nodeId), userId);
      }).catch((err: unknown) => logger.warn({ err, socketId }, 'releasing a user connection failed'));
    },
    purgeNode: (dead) =>
      purgeNode(dead).catch((err: unknown) =>
        logger.warn({ err, dead }, 'removing a dead io-node’s user connections failed; the sweep retries'),
      ),
    reassert() {
      for (const [socketId, userId] of local) {
        inOrder(userId, async () => {
          await redis.sadd(keys.userNodes, nodeId);
          await redis.sadd(keys.nodeUsers(nodeId), userId);
          await redis.hset(keys.userConnections(userId), socketId, nodeId);
        }).catch((err: unknown) => logger.warn({ err, socketId }, 'rewriting a user connection failed'));
      }
    },
    async start() {
      await purgeNode(nodeId);
      sweep = repeat(options.sweepIntervalMs, sweepOnce, logger, 'user connections sweep failed; retrying');
    },
    close() {
      closing ??= (async () => {
        await sweep?.stop();
        await Promise.allSettled(chains.values());
        await purgeNode(nodeId).catch((err: unknown) =>
          logger.warn({ err }, 'removing this node’s user connections failed; peers purge them'),
        );
      })();
      return closing;
    },
  };
}
