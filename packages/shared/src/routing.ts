import type { Keys } from './keys.js';
import { loadLuaScript } from './lua-script.js';
import type { RedisConnection } from './redis.js';

/**
 * The routing table in Redis: which io-nodes a room command must reach, and which io-nodes have an inbox.
 *
 * Per room, a hash maps io-node id → count, where count = that node's members of the room + joins for it
 * published by app-nodes and not yet applied by it. Who changes what:
 * - an app-node counts a join (+1) *before* it appends the join to the node's inbox, so any emit an
 *   app-node publishes after the join was published finds the node (join-before-emit across app-nodes);
 * - the io-node, when it applies a join, takes the pending join off again (-1) unless the socket really
 *   became a member (net 0); when a member leaves or disconnects it counts -1; at 0 the field goes, and
 *   emits to the room stop reaching that node.
 * Counts therefore never fall below the truth while commands are in flight: a node may get an emit it
 * filters out locally, never miss one it should have applied.
 *
 * A node whose heartbeat stops is, for a while, either dead or cut off from Redis (a partition, a
 * frozen process): the two look alike. So it is purged in two steps. At once (its heartbeat TTL), live
 * nodes treat it as gone for presence and start its clients' recovery window; but its routing entries
 * and inbox stay for the inbox retention, and commands keep being appended for it, so a node that comes
 * back within that time reads everything it missed. Past the retention, whichever node claims it first
 * (atomically, exactly once) removes its fields, its room index and its inbox. App-nodes append with
 * NOMKSTREAM, so a purged inbox is never recreated by a late command.
 */
export interface RoutingTable {
  /** App-node: counts joins of `rooms` for `nodeId` (await before appending the joins to its inbox). */
  countJoins(nodeId: string, rooms: Iterable<string>): Promise<void>;
  /** App-node: the io-nodes counted in each room. */
  roomNodes(rooms: Iterable<string>): Promise<Map<string, string[]>>;
  /**
   * The io-nodes whose inbox heartbeat expires after `since`: with `since` = now, the live ones; with
   * now minus the inbox retention, the targets of a broadcast (a node cut off for less than that still
   * reads its inbox when it is back).
   */
  liveNodes(since?: number): Promise<string[]>;
  /** The io-nodes whose heartbeat expired at or before `now` (not yet purged). */
  expiredNodes(now?: number): Promise<string[]>;
  /**
   * io-node: applies net count changes for its rooms. Resolves with the rooms whose count reached 0
   * (their fields are gone).
   */
  adjust(nodeId: string, deltas: ReadonlyMap<string, number>): Promise<string[]>;
  /**
   * io-node, after trouble: raises its count in each room to at least its member count there (a count
   * may have been lost with Redis' data, or a failed write may have been applied after all).
   */
  raise(nodeId: string, counts: ReadonlyMap<string, number>): Promise<void>;
  /** App-node: removes a node that turned out to have no inbox from rooms that still listed it. */
  forget(nodeId: string, rooms: Iterable<string>): Promise<void>;
  /** io-node: creates its inbox if missing; returns the id of the entry it appended when it created it. */
  createInbox(nodeId: string): Promise<string | null>;
  /**
   * io-node heartbeat: keeps the node live until `expiresAt`. Resolves with the expiry it had before
   * (null: it was not listed at all, i.e. it was purged), so a node learns it was taken for dead.
   */
  touch(nodeId: string, expiresAt: number): Promise<number | null>;
  /**
   * Claims the nodes whose inbox heartbeat expired at or before `before`: each is returned to exactly one
   * caller, which must then `purge` it.
   */
  claimExpired(before: number): Promise<string[]>;
  /** Removes every trace of a node: its room fields, its room index, its inbox and its heartbeat. */
  purge(nodeId: string): Promise<void>;
}

const ADJUST = loadLuaScript(import.meta.url, 'routing-adjust');
const RAISE = loadLuaScript(import.meta.url, 'routing-raise');
const TOUCH = loadLuaScript(import.meta.url, 'routing-touch');
const CLAIM_EXPIRED = loadLuaScript(import.meta.url, 'routing-claim-expired');
const CREATE_INBOX = loadLuaScript(import.meta.url, 'inbox-create');

export function createRoutingTable(redis: RedisConnection, keys: Keys): RoutingTable {
  return {
    async countJoins(nodeId, rooms) {
      const list = [...rooms];
      if (list.length === 0) return;
      await Promise.all([
        ...list.map((room) => redis.hincrby(keys.roomNodes(room), nodeId, 1)),
        redis.sadd(keys.nodeRooms(nodeId), ...list),
      ]);
    },

    async roomNodes(rooms) {
      const list = [...rooms];
      const replies = await Promise.all(list.map((room) => redis.hkeys(keys.roomNodes(room))));
      return new Map(list.map((room, i) => [room, replies[i]!]));
    },

    liveNodes: (since = Date.now()) => redis.zrangebyscore(keys.inboxNodes, `(${since}`, '+inf'),

    expiredNodes: (now = Date.now()) => redis.zrangebyscore(keys.inboxNodes, '-inf', now),

    async adjust(nodeId, deltas) {
      const rooms = [...deltas].filter(([, delta]) => delta !== 0);
      const counts = await Promise.all(
        rooms.map(([room, delta]) => ADJUST.run(redis, [keys.roomNodes(room)], [nodeId, delta])),
      );
      const emptied = rooms.filter((_, i) => Number(counts[i]) <= 0).map(([room]) => room);
      if (emptied.length > 0) await redis.srem(keys.nodeRooms(nodeId), ...emptied);
      return emptied;
    },

    async raise(nodeId, counts) {
      if (counts.size === 0) return;
      await Promise.all([
        ...[...counts].map(([room, floor]) => RAISE.run(redis, [keys.roomNodes(room)], [nodeId, floor])),
        redis.sadd(keys.nodeRooms(nodeId), ...counts.keys()),
      ]);
    },

    async forget(nodeId, rooms) {
      await Promise.all([...rooms].map((room) => redis.hdel(keys.roomNodes(room), nodeId)));
    },

    async createInbox(nodeId) {
      const id = await CREATE_INBOX.run(redis, [keys.inbox(nodeId)], []);
      return typeof id === 'string' ? id : null;
    },

    async touch(nodeId, expiresAt) {
      const previous = await TOUCH.run(redis, [keys.inboxNodes], [expiresAt, nodeId]);
      return previous === null || previous === undefined ? null : Number(previous);
    },

    async claimExpired(before) {
      return (await CLAIM_EXPIRED.run(redis, [keys.inboxNodes], [before])) as string[];
    },

    async purge(nodeId) {
      const rooms = await redis.smembers(keys.nodeRooms(nodeId));
      await Promise.all([
        ...rooms.map((room) => redis.hdel(keys.roomNodes(room), nodeId)),
        redis.zrem(keys.inboxNodes, nodeId),
        redis.del(keys.inbox(nodeId)),
      ]);
      await redis.del(keys.nodeRooms(nodeId));
    },
  };
}
