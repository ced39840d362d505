import type { Keys } from './keys.js';
import type { LivenessEntry } from './liveness.js';
import type { Logger } from './logger.js';
import { loadLuaScript } from './lua-script.js';
import type { RedisConnection } from './redis.js';
import { type AppNodeRecord, decodeAppNodeRecord, encodeAppNodeRecord } from './wire/app-node-record.js';
import { decodeIoNodeRecord, encodeIoNodeRecord, type IoNodeRecord } from './wire/io-node-record.js';

/**
 * Where one kind of node keeps its liveness records: one per node, a member of `index` scored by when
 * the record expires, plus (while the node takes connections) a hash describing it. Both are written by
 * one script, so a reader never sees a hash whose node is not in the index.
 */
export interface LivenessKind<R extends { readonly nodeId: string }> {
  /** `io-node` or `app-node`, for logs. */
  readonly name: string;
  /** Sorted set: node id → expiry of its record (ms since epoch). */
  readonly index: string;
  /** The hash describing a node. Same hash tag as `index`. */
  record(nodeId: string): string;
  encode(record: R): Record<string, string>;
  /** Throws a WireError naming the bad field. */
  decode(fields: unknown): R;
  /**
   * Members expired this long are dropped by every write (app-nodes: nothing else to clean up); undefined:
   * each is claimed by one reader, which purges what the node left (io-nodes: inbox, routing).
   */
  readonly reapAfterMs: number | undefined;
  /** Pub/sub channel a node publishes to when it joins or leaves, so readers look at once. */
  readonly channel: string | undefined;
}

/**
 * io-nodes: their index is also the list of inboxes app-nodes broadcast to (`RoutingTable.liveNodes`);
 * an expired member stays there, a broadcast target, until a live node claims and purges it.
 */
export function ioNodeLiveness(keys: Keys): LivenessKind<IoNodeRecord> {
  return {
    name: 'io-node',
    index: keys.inboxNodes,
    record: (nodeId) => keys.registryNode(nodeId),
    encode: encodeIoNodeRecord,
    decode: decodeIoNodeRecord,
    reapAfterMs: undefined,
    channel: keys.registryChannel,
  };
}

/** app-nodes: listed for the admin view only; a crashed one's member goes with the next write. */
export function appNodeLiveness(keys: Keys): LivenessKind<AppNodeRecord> {
  return {
    name: 'app-node',
    index: keys.appRegistryIndex,
    record: (nodeId) => keys.appRegistryNode(nodeId),
    encode: encodeAppNodeRecord,
    decode: decodeAppNodeRecord,
    reapAfterMs: 0,
    channel: undefined,
  };
}

/** Writes one node's record and its expiry (see the script's header). */
const WRITE = loadLuaScript(import.meta.url, 'liveness-write');
/** Hands each expired node to exactly one caller. */
const CLAIM = loadLuaScript(import.meta.url, 'liveness-claim-expired');

export interface LivenessWrite<R> {
  nodeId: string;
  /** The writer's clock (ms since epoch). */
  now: number;
  /** The record expires `ttlMs` after `now` unless written again. */
  ttlMs: number;
  /** What the node is; omitted while it takes no connections. */
  record?: R | undefined;
  /** Nodes whose records this one replaces. @defaultValue none */
  replaces?: readonly string[];
}

/** Writes a node's record (see {@link LivenessKind}); resolves with its previous expiry, null if none. */
export async function writeLiveness<R extends { readonly nodeId: string }>(
  redis: RedisConnection,
  kind: LivenessKind<R>,
  write: LivenessWrite<R>,
): Promise<number | null> {
  const replaces = write.replaces ?? [];
  const fields = write.record ? Object.entries(kind.encode(write.record)).flat() : [];
  const previous = await WRITE.run(
    redis,
    [kind.index, kind.record(write.nodeId), ...replaces.map((id) => kind.record(id))],
    [
      write.nodeId,
      write.now,
      write.now + write.ttlMs,
      write.ttlMs,
      kind.reapAfterMs === undefined ? '' : write.now - kind.reapAfterMs,
      replaces.length,
      ...replaces,
      ...fields,
    ],
  );
  return typeof previous === 'string' ? Number(previous) : null;
}

/** Removes a node's record at once: index member and hash (an app-node's clean shutdown). */
export async function removeLiveness(
  redis: RedisConnection,
  kind: LivenessKind<{ readonly nodeId: string }>,
  nodeId: string,
): Promise<void> {
  await redis.multi().zrem(kind.index, nodeId).del(kind.record(nodeId)).exec();
}

/** Claims the nodes expired at or before `before`: each is returned to exactly one caller, which purges it. */
export async function claimExpired(
  redis: RedisConnection,
  kind: LivenessKind<{ readonly nodeId: string }>,
  before: number,
): Promise<string[]> {
  return (await CLAIM.run(redis, [kind.index], [before])) as string[];
}

/** One read of a kind's records: every index member, and the records of those that have one. */
export interface LivenessRead<R> {
  /** Ordered by node id. */
  readonly entries: readonly LivenessEntry[];
  readonly records: ReadonlyMap<string, R>;
}

/** Reads every record of a kind. A hash that fails to decode counts as no record, and is logged. */
export async function readLiveness<R extends { readonly nodeId: string }>(
  redis: RedisConnection,
  kind: LivenessKind<R>,
  logger?: Logger,
): Promise<LivenessRead<R>> {
  const flat = await redis.zrange(kind.index, 0, -1, 'WITHSCORES');
  const members: { nodeId: string; expiresAt: number }[] = [];
  for (let i = 0; i < flat.length; i += 2) members.push({ nodeId: flat[i]!, expiresAt: Number(flat[i + 1]) });
  members.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  const records = new Map<string, R>();
  if (members.length > 0) {
    const pipeline = redis.pipeline();
    for (const { nodeId } of members) pipeline.hgetall(kind.record(nodeId));
    ((await pipeline.exec()) ?? []).forEach(([err, fields], i) => {
      if (err) throw err;
      const { nodeId } = members[i]!;
      if (!fields || Object.keys(fields).length === 0) return;
      try {
        records.set(nodeId, kind.decode(fields));
      } catch (decodeErr) {
        logger?.warn({ err: decodeErr, nodeId }, `malformed ${kind.name} record skipped`);
      }
    });
  }
  return { entries: members.map((m) => ({ ...m, listed: records.has(m.nodeId) })), records };
}

/** The records of the nodes live at `now` that take connections, ordered by node id. */
export async function readListed<R extends { readonly nodeId: string }>(
  redis: RedisConnection,
  kind: LivenessKind<R>,
  now: number = Date.now(),
  logger?: Logger,
): Promise<R[]> {
  const { entries, records } = await readLiveness(redis, kind, logger);
  return entries.filter((e) => e.expiresAt > now && e.listed).map((e) => records.get(e.nodeId)!);
}
