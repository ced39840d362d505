import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';

/** Where Redis is: one server, a Sentinel-managed primary, or a Cluster. */
export type RedisTarget =
  | { readonly kind: 'standalone'; readonly url: string }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly { host: string; port: number }[];
      readonly name: string;
      readonly password?: string | undefined;
    }
  | {
      readonly kind: 'cluster';
      readonly nodes: readonly { host: string; port: number }[];
      readonly password?: string | undefined;
    };

/**
 * What a connection is for. Each gets its own connection (STYLE: separate connections for publishing,
 * subscribing and BullMQ's blocking work); `blocking` and `subscriber` retry forever instead of failing
 * commands, which BullMQ requires of its workers.
 */
export type RedisRole = 'command' | 'publisher' | 'subscriber' | 'blocking';

export type RedisConnection = Redis | Cluster;

/** Accepts a URL string as shorthand for a standalone target. */
function toRedisTarget(target: RedisTarget | string): RedisTarget {
  return typeof target === 'string' ? { kind: 'standalone', url: target } : target;
}

/**
 * Opens an ioredis connection for one role, logging (not throwing) connection trouble. With `lazy`, it
 * connects at its first command (or `connect()`), so a factory can build it and `start()` connect it.
 */
export function createRedis(
  target: RedisTarget | string,
  role: RedisRole,
  options: {
    logger?: Logger;
    connectionName?: string;
    lazy?: boolean;
    /**
     * Commands a publisher connection writes at once instead of in the turn's auto-pipeline: ones that go
     * out alone on a hot path, for which the pipeline is pure cost (an ioredis Pipeline copies every
     * script defined on the connection when it is made). Such a command may reach Redis before commands
     * of the same turn queued ahead of it: only for commands that follow nothing unawaited.
     */
    sentAtOnce?: readonly string[];
    /**
     * On a Cluster, sharded subscriptions (SSUBSCRIBE) go to the primary holding each channel's slot, one
     * connection per primary, moved by ioredis when slots move (its `shardedSubscribers`).
     */
    sharded?: boolean;
  } = {},
): RedisConnection {
  const resolved = toRedisTarget(target);
  const base: RedisOptions = {
    connectionName: options.connectionName,
    // A lazy connection opens with `openRedis` (a component's start()) or its first command.
    lazyConnect: options.lazy === true,
    // BullMQ needs null on connections that block; commands elsewhere fail fast instead of piling up.
    maxRetriesPerRequest: role === 'blocking' || role === 'subscriber' ? null : 20,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
    // Publishers send many independent commands per turn (routing lookups, one append per inbox): ioredis
    // then writes them as one pipeline per server, which on a Cluster is the only way to pipeline
    // commands whose keys live on different primaries.
    enableAutoPipelining: role === 'publisher',
    autoPipeliningIgnoredCommands: [...(options.sentAtOnce ?? [])],
    // After a failover the old primary may come back as a replica while a connection still points at it
    // (a Sentinel failover demotes it without closing clients' connections, or a plain URL names it):
    // every write then fails with READONLY. Reconnecting (2: and resending the command) makes a Sentinel
    // connection ask the sentinels for the new primary, so writes go on there instead of failing.
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
  };
  let connection: RedisConnection;
  if (resolved.kind === 'standalone') {
    connection = new Redis(resolved.url, base);
  } else if (resolved.kind === 'sentinel') {
    connection = new Redis({
      ...base,
      sentinels: resolved.sentinels.map((s) => ({ ...s })),
      name: resolved.name,
      // Subscribes to the sentinels' +switch-master and reconnects at once when the primary changes,
      // rather than waiting for the old primary to refuse a write or drop the connection.
      failoverDetector: true,
      password: resolved.password,
    });
  } else {
    connection = new Cluster(
      resolved.nodes.map((n) => ({ ...n })),
      {
        redisOptions: { ...base, password: resolved.password },
        enableAutoPipelining: base.enableAutoPipelining,
        autoPipeliningIgnoredCommands: base.autoPipeliningIgnoredCommands,
        lazyConnect: base.lazyConnect,
        shardedSubscribers: options.sharded === true,
      },
    );
  }
  const log = options.logger?.child({ redisRole: role });
  if (resolved.kind === 'sentinel') reviveAfterAbortedConnect(connection as Redis, log);
  let lastError = '';
  connection.on('error', (err: Error) => {
    // ioredis retries on its own; log each distinct failure once instead of once per retry.
    if (err.message !== lastError) log?.warn({ err }, 'redis connection error');
    lastError = err.message;
  });
  connection.on('ready', () => {
    if (lastError) log?.info('redis connection ready again');
    lastError = '';
  });
  return connection;
}

/**
 * Reads a Cluster's slots again (ioredis' `refreshSlotsCache`; a refresh under way is joined), so that
 * commands, and sharded subscriptions, go to the nodes serving the slots now. Rejects when no node answered.
 */
export function readSlots(cluster: Cluster): Promise<void> {
  return new Promise((resolve, reject) =>
    cluster.refreshSlotsCache((err) => (err ? reject(err) : resolve())),
  );
}

/**
 * Opens a connection made with `lazy` unless it is open or opening already; does not wait for it.
 * Failures are logged by the connection's error listener and retried by ioredis like any other.
 */
export function openRedis(connection: RedisConnection | undefined): void {
  if (connection?.status === 'wait') connection.connect().catch(() => undefined);
}

/** Connections closed by `closeRedis`: never revived. */
const closedOnPurpose = new WeakSet<RedisConnection>();

/** Marks a connection as closed on purpose (see {@link reviveAfterAbortedConnect}). */
export function markClosedOnPurpose(connection: RedisConnection): void {
  closedOnPurpose.add(connection);
}

/** How long a revived connection waits before connecting again. */
const REVIVE_DELAY_MS = 100;

/**
 * ioredis 5 ends a Sentinel connection for good when a reconnect is asked for while it is still asking
 * the sentinels where the primary is: the failover detector's `+switch-master`, or a `READONLY` reply,
 * arrives during that look-up, the look-up then rejects with "Connection is closed." and the status
 * goes to `end`. Every later command fails with that message until the process restarts: an io-node
 * could no longer enqueue, an app-node no longer publish (the Sentinel SIGKILL test lost 1,434 of 2,909
 * messages that way in some runs). A connection that ended so, and that nobody closed, connects again.
 */
function reviveAfterAbortedConnect(connection: Redis, log: Logger | undefined): void {
  // BullMQ runs its workers on duplicates of the connection it is given (ioredis' duplicate(): the same
  // options, none of these listeners): they are revived the same way.
  const duplicate = connection.duplicate.bind(connection);
  connection.duplicate = (override) => {
    const copy = duplicate(override);
    reviveAfterAbortedConnect(copy, log);
    return copy;
  };
  let aborted = false;
  connection.on('error', (err: Error) => {
    // Emitted by connect() just before it sets the status to `end`. A disconnect() of ours sets
    // `manuallyClosing` first (ioredis' own flag), so it is told apart.
    const manually = (connection as unknown as { manuallyClosing?: boolean }).manuallyClosing === true;
    if (err.message === 'Connection is closed.' && connection.status === 'connecting' && !manually) {
      aborted = true;
    }
  });
  connection.on('end', () => {
    if (!aborted || closedOnPurpose.has(connection)) return;
    aborted = false;
    log?.warn('redis connection ended while looking up the primary; connecting again');
    setTimeout(() => {
      if (connection.status !== 'end' || closedOnPurpose.has(connection)) return;
      connection.connect().catch(() => undefined);
    }, REVIVE_DELAY_MS).unref();
  });
}
