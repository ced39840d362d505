import type { Keys } from './keys.js';
import { createListeners } from './listeners.js';
import type { Logger } from './logger.js';
import type { RedisConnection } from './redis.js';
import { type AppNodeRecord, decodeAppNodeRecord, encodeAppNodeRecord } from './wire/app-node-record.js';
import { decodeIoNodeRecord, type IoNodeRecord } from './wire/io-node-record.js';

/**
 * The live io-nodes: those whose heartbeat has not expired at `now`, ordered by `nodeId` (a stable order
 * for round-robin and for display). Removes expired members from the index on the way (a reader's share
 * of the cleanup; their hashes expire on their own). Records that fail to decode are skipped and logged.
 * When two live records claim one URL (a restart racing its predecessor's expiry), only the newer is
 * returned.
 */
export async function readLiveNodes(
  redis: RedisConnection,
  keys: Keys,
  now: number = Date.now(),
  logger?: Logger,
): Promise<IoNodeRecord[]> {
  const results = await redis
    .multi()
    .zremrangebyscore(keys.registryIndex, '-inf', now)
    .zrangebyscore(keys.registryIndex, `(${now}`, '+inf')
    .exec();
  const listed = results?.[1];
  if (!listed) throw new Error('registry read aborted: MULTI returned no result');
  if (listed[0]) throw listed[0];
  const ids = listed[1] as string[];
  if (ids.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hgetall(keys.registryNode(id));
  const replies = (await pipeline.exec()) ?? [];
  const byUrl = new Map<string, IoNodeRecord>();
  replies.forEach(([err, fields], i) => {
    if (err) throw err;
    // The hash expired between the two round trips: the node is gone.
    if (!fields || Object.keys(fields).length === 0) return;
    let record: IoNodeRecord;
    try {
      record = decodeIoNodeRecord(fields);
    } catch (decodeErr) {
      logger?.warn({ err: decodeErr, nodeId: ids[i] }, 'malformed registry record skipped');
      return;
    }
    const seen = byUrl.get(record.url);
    if (!seen || seen.startedAt < record.startedAt) byUrl.set(record.url, record);
  });
  return [...byUrl.values()].sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
}

/** Whether io-node `nodeId`'s heartbeat is current: one ZSCORE, for code that asks about one node. */
export async function isNodeLive(
  redis: RedisConnection,
  keys: Keys,
  nodeId: string,
  now: number = Date.now(),
): Promise<boolean> {
  const expiresAt = await redis.zscore(keys.registryIndex, nodeId);
  return expiresAt !== null && Number(expiresAt) > now;
}

/** Events of a {@link RegistryWatcher}. */
export interface RegistryEvents {
  /** A node appeared in the registry (started, or came back after its record expired). */
  'peer-joined': (node: IoNodeRecord) => void;
  /** A node left the registry: clean shutdown, or its heartbeat expired. */
  'peer-left': (node: IoNodeRecord) => void;
  /** Every successful read, with the whole live list (fresh connection counts included). */
  refresh: (nodes: readonly IoNodeRecord[]) => void;
}

export interface RegistryWatcherOptions {
  /** Connection for the reads (a command connection; the watcher does not close it). */
  redis: RedisConnection;
  keys: Keys;
  /** How often the registry is read. @defaultValue 1000 */
  intervalMs?: number;
  /**
   * A connection dedicated to subscribing (the watcher subscribes it to `Keys.registryChannel` and
   * unsubscribes on close, but does not close it): join/leave announcements then trigger an immediate
   * read instead of waiting for the next poll. Without it, changes are seen within `intervalMs`.
   * @defaultValue none
   */
  subscriber?: RedisConnection;
  /** A node id never reported (an io-node watching its peers leaves itself out). @defaultValue none */
  exclude?: string;
  /** @defaultValue no logging */
  logger?: Logger;
}

/**
 * A poller over the registry that keeps the live list in memory and turns changes into `peer-joined` /
 * `peer-left` events. A node that stops heartbeating leaves every watcher's view within its heartbeat TTL
 * plus `intervalMs`. Read failures are logged and retried at the next poll; the list keeps its last good
 * value meanwhile (see `refreshedAt` to tell how old it is).
 */
export interface RegistryWatcher {
  /** Live nodes at the last successful read, ordered by `nodeId`. */
  readonly nodes: readonly IoNodeRecord[];
  /** When the last successful read finished (ms since epoch); 0 before the first. */
  readonly refreshedAt: number;
  /** The first read happens before this resolves; it rejects if that read fails. */
  start(): Promise<void>;
  /** Reads now (calls made while a read is under way share it) and returns the live list. */
  refresh(): Promise<readonly IoNodeRecord[]>;
  /** Registers a listener; returns the function that removes it. */
  on<E extends keyof RegistryEvents>(event: E, listener: RegistryEvents[E]): () => void;
  /** Stops polling and unsubscribes. Idempotent. */
  close(): Promise<void>;
}

/** Creates a {@link RegistryWatcher}; nothing is read until `start()`. */
export function watchRegistry(options: RegistryWatcherOptions): RegistryWatcher {
  const { redis, keys, subscriber, exclude, logger } = options;
  const intervalMs = options.intervalMs ?? 1_000;
  if (!Number.isInteger(intervalMs) || intervalMs < 1) {
    throw new TypeError(`RegistryWatcherOptions.intervalMs must be a positive integer, got ${intervalMs}`);
  }
  const listeners = createListeners<RegistryEvents>(logger);
  const { emit } = listeners;
  let nodes: readonly IoNodeRecord[] = [];
  let refreshedAt = 0;
  let inFlight: Promise<readonly IoNodeRecord[]> | undefined;
  let next: Promise<readonly IoNodeRecord[]> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let lastError = '';

  async function read(): Promise<readonly IoNodeRecord[]> {
    const live = (await readLiveNodes(redis, keys, Date.now(), logger)).filter((n) => n.nodeId !== exclude);
    if (closed) return nodes;
    const before = new Map(nodes.map((n) => [n.nodeId, n]));
    const after = new Set(live.map((n) => n.nodeId));
    nodes = Object.freeze(live);
    refreshedAt = Date.now();
    for (const node of before.values()) if (!after.has(node.nodeId)) emit('peer-left', node);
    for (const node of live) if (!before.has(node.nodeId)) emit('peer-joined', node);
    emit('refresh', nodes);
    return nodes;
  }

  /** A read that starts no earlier than the call: one under way may have missed what the caller knows. */
  function refresh(): Promise<readonly IoNodeRecord[]> {
    if (!inFlight) {
      inFlight = read().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    }
    next ??= inFlight
      .catch(() => undefined)
      .then(() => {
        next = undefined;
        return closed ? nodes : refresh();
      });
    return next;
  }

  function poll(): void {
    if (inFlight) return;
    refresh().then(
      () => {
        if (lastError) logger?.info('registry readable again');
        lastError = '';
      },
      (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        if (message !== lastError) logger?.warn({ err }, 'registry read failed; retrying');
        lastError = message;
      },
    );
  }

  const onMessage = (channel: string) => {
    if (channel !== keys.registryChannel || closed) return;
    // An announcement may describe a change a read under way missed: queue a fresh one.
    refresh().catch((err: unknown) => logger?.warn({ err }, 'registry read failed; retrying'));
  };

  return {
    get nodes() {
      return nodes;
    },
    get refreshedAt() {
      return refreshedAt;
    },
    async start() {
      if (subscriber) {
        subscriber.on('message', onMessage);
        await subscriber.subscribe(keys.registryChannel);
      }
      await refresh();
      if (!closed) timer = setInterval(poll, intervalMs);
    },
    refresh,
    on: listeners.on,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      if (subscriber) {
        subscriber.off('message', onMessage);
        if (subscriber.status === 'ready') {
          await subscriber.unsubscribe(keys.registryChannel).catch(() => undefined);
        }
      }
      await Promise.all([inFlight?.catch(() => undefined), next?.catch(() => undefined)]);
    },
  };
}

/**
 * Atomically: drop expired index members, replace the node's hash (with a TTL) and score its index member
 * at the new expiry. KEYS: index, hash. ARGV: nodeId, now, expiry, ttlMs, fields...
 */
const APP_HEARTBEAT_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
`;

/**
 * Writes an app-node's heartbeat: its record, listed until `record.lastSeen + ttlMs` unless written again.
 * One script, so a reader never sees the index member without its hash.
 */
export async function writeAppNodeRecord(
  redis: RedisConnection,
  keys: Keys,
  record: AppNodeRecord,
  ttlMs: number,
): Promise<void> {
  await redis.eval(
    APP_HEARTBEAT_SCRIPT,
    2,
    keys.appRegistryIndex,
    keys.appRegistryNode(record.nodeId),
    record.nodeId,
    record.lastSeen,
    record.lastSeen + ttlMs,
    ttlMs,
    ...Object.entries(encodeAppNodeRecord(record)).flat(),
  );
}

/** Removes an app-node's record at once (clean shutdown). */
export async function removeAppNodeRecord(redis: RedisConnection, keys: Keys, nodeId: string): Promise<void> {
  await redis.multi().zrem(keys.appRegistryIndex, nodeId).del(keys.appRegistryNode(nodeId)).exec();
}

/**
 * The live app-nodes (heartbeat not expired at `now`), ordered by `nodeId`; like {@link readLiveNodes},
 * it removes expired index members on the way and skips (and logs) records that fail to decode.
 */
export async function readLiveAppNodes(
  redis: RedisConnection,
  keys: Keys,
  now: number = Date.now(),
  logger?: Logger,
): Promise<AppNodeRecord[]> {
  const results = await redis
    .multi()
    .zremrangebyscore(keys.appRegistryIndex, '-inf', now)
    .zrangebyscore(keys.appRegistryIndex, `(${now}`, '+inf')
    .exec();
  const listed = results?.[1];
  if (!listed) throw new Error('app registry read aborted: MULTI returned no result');
  if (listed[0]) throw listed[0];
  const ids = listed[1] as string[];
  if (ids.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hgetall(keys.appRegistryNode(id));
  const records: AppNodeRecord[] = [];
  ((await pipeline.exec()) ?? []).forEach(([err, fields], i) => {
    if (err) throw err;
    if (!fields || Object.keys(fields).length === 0) return;
    try {
      records.push(decodeAppNodeRecord(fields));
    } catch (decodeErr) {
      logger?.warn({ err: decodeErr, nodeId: ids[i] }, 'malformed app-node registry record skipped');
    }
  });
  return records.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
}
