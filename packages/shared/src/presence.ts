import type { Keys } from './keys.js';
import { loadLuaScript } from './lua-script.js';
import type { RedisConnection } from './redis.js';
import type { PresenceMeta } from './wire/presence.js';

/** One connection of a member in a room's roster. */
export interface PresenceConnection {
  socketId: string;
  /** io-node holding the connection. */
  nodeId: string;
  meta: PresenceMeta;
  /** When the connection (last) joined the room's roster, ms since epoch. */
  joinedAt: number;
}

/** A member of a room's roster: one user (or anonymous connection) with every connection it has there. */
export interface PresenceMember {
  id: string;
  /** The meta of its earliest connection. */
  meta: PresenceMeta;
  /** Oldest first; never empty. */
  connections: PresenceConnection[];
}

/** A connection taken off a roster, and whether it was its member's last one there. */
export interface PresenceRemoval {
  room: string;
  memberId: string;
  connection: PresenceConnection;
  /** The member left the room (it was the member's last connection there). */
  last: boolean;
}

/**
 * Presence rosters in Redis. Per room, under the room's hash tag (one Cluster slot, like its routing
 * entry): a hash of connections (socket id → member, io-node, meta, time) and a hash of members (member id
 * → connections). Both change only inside one Lua script per join or leave, which reports whether the
 * member's first connection joined or its last one left: that report is the one place `joined`/`left` are
 * decided, so each happens exactly once however many nodes race (a second removal of the same connection
 * finds nothing and reports nothing).
 *
 * Per io-node, a set of the (room, socket) pairs it holds, so whoever purges a dead node finds them; and
 * one set of the nodes that have such a set. The index is written before the roster and cleared after
 * it, so a roster entry is never left without its index entry.
 */
export interface PresenceStore {
  /** Adds a connection; resolves true when it is its member's first in the room (`joined`). */
  join(
    room: string,
    socketId: string,
    memberId: string,
    nodeId: string,
    meta: PresenceMeta,
  ): Promise<boolean>;
  /** Removes a connection; null when it was not there (already removed by someone else). */
  leave(room: string, socketId: string, nodeId: string): Promise<PresenceRemoval | null>;
  /** Removes every connection a node holds (it died or is closing); resolves with what this call removed. */
  purgeNode(nodeId: string): Promise<PresenceRemoval[]>;
  /** The io-nodes that may still hold presence entries. */
  nodes(): Promise<string[]>;
  /** A room's members with their connections, oldest member first. */
  roster(room: string): Promise<PresenceMember[]>;
  /** Number of members in a room, without reading the roster (HLEN). */
  count(room: string): Promise<number>;
  /** Number of connections in a room's roster (a member with three tabs has three), without reading it. */
  connectionCount(room: string): Promise<number>;
  /**
   * Rooms that have members, for an overview (the admin view): up to `max`, found by sampling each
   * io-node's index (no scan of the key space), each with its member count and up to `names` of its
   * members with their meta (a random sample of the room's connections, not the whole roster).
   */
  rooms(max: number, names: number): Promise<PresenceRoomSummary[]>;
}

/** A room in an overview: its member count and some of its members. */
export interface PresenceRoomSummary {
  room: string;
  /** Distinct members. */
  members: number;
  /** Up to the number asked for, each once, with the meta of one of its connections. */
  sample: { id: string; meta: PresenceMeta }[];
}

/** Stored value of a connection: short field names, it is held once per connection per room. */
interface StoredEntry {
  m: string;
  n: string;
  meta: PresenceMeta;
  t: number;
}

const JOIN = loadLuaScript(import.meta.url, 'presence-join');

const LEAVE = loadLuaScript(import.meta.url, 'presence-leave');

/** Entries sampled per io-node when listing rooms for an overview. */
const ROOMS_SAMPLE = 2_000;

/** Removals run at once by one purge call: bounds the replies held in memory. */
const PURGE_CHUNK = 500;

function indexEntry(room: string, socketId: string): string {
  return JSON.stringify([room, socketId]);
}

function toConnection(socketId: string, entry: StoredEntry): PresenceConnection {
  return { socketId, nodeId: entry.n, meta: entry.meta, joinedAt: entry.t };
}

/**
 * A roster from its connections: grouped by member, connections oldest first, each member's meta its
 * earliest connection's, members by their earliest connection (ties by socket id, then member id).
 */
export function rosterOf(
  connections: Iterable<{ memberId: string; connection: PresenceConnection }>,
): PresenceMember[] {
  const members = new Map<string, PresenceMember>();
  for (const { memberId, connection } of connections) {
    const member = members.get(memberId);
    if (member) member.connections.push(connection);
    else members.set(memberId, { id: memberId, meta: connection.meta, connections: [connection] });
  }
  const byAge = (a: PresenceConnection, b: PresenceConnection) =>
    a.joinedAt - b.joinedAt || (a.socketId < b.socketId ? -1 : 1);
  for (const member of members.values()) {
    member.connections.sort(byAge);
    member.meta = member.connections[0]!.meta;
  }
  return [...members.values()].sort(
    (a, b) => byAge(a.connections[0]!, b.connections[0]!) || (a.id < b.id ? -1 : 1),
  );
}

export function createPresenceStore(redis: RedisConnection, keys: Keys): PresenceStore {
  async function remove(room: string, socketId: string): Promise<PresenceRemoval | null> {
    const reply = (await LEAVE.run(
      redis,
      [keys.presenceConnections(room), keys.presenceMembers(room)],
      [socketId],
    )) as [number, string] | null;
    if (!reply) return null;
    const entry = JSON.parse(reply[1]) as StoredEntry;
    return { room, memberId: entry.m, connection: toConnection(socketId, entry), last: reply[0] === 1 };
  }

  return {
    async join(room, socketId, memberId, nodeId, meta) {
      const entry: StoredEntry = { m: memberId, n: nodeId, meta, t: Date.now() };
      await Promise.all([
        redis.sadd(keys.presenceNodes, nodeId),
        redis.sadd(keys.nodePresence(nodeId), indexEntry(room, socketId)),
      ]);
      const first = await JOIN.run(
        redis,
        [keys.presenceConnections(room), keys.presenceMembers(room)],
        [socketId, memberId, JSON.stringify(entry)],
      );
      return first === 1;
    },

    async leave(room, socketId, nodeId) {
      const removal = await remove(room, socketId);
      await redis.srem(keys.nodePresence(nodeId), indexEntry(room, socketId));
      return removal;
    },

    async purgeNode(nodeId) {
      const index = keys.nodePresence(nodeId);
      const removed: PresenceRemoval[] = [];
      for (;;) {
        const pairs = await redis.srandmember(index, PURGE_CHUNK);
        if (pairs.length === 0) break;
        const results = await Promise.all(
          pairs.map((pair) => {
            const [room, socketId] = JSON.parse(pair) as [string, string];
            return remove(room, socketId);
          }),
        );
        for (const removal of results) if (removal) removed.push(removal);
        // Only what was read is cleared: a node wrongly thought dead may be adding entries meanwhile.
        await redis.srem(index, ...pairs);
      }
      await redis.srem(keys.presenceNodes, nodeId);
      return removed;
    },

    nodes: () => redis.smembers(keys.presenceNodes),

    async roster(room) {
      const all = await redis.hgetall(keys.presenceConnections(room));
      return rosterOf(
        Object.entries(all).map(([socketId, raw]) => {
          const entry = JSON.parse(raw) as StoredEntry;
          return { memberId: entry.m, connection: toConnection(socketId, entry) };
        }),
      );
    },

    count: (room) => redis.hlen(keys.presenceMembers(room)),
    connectionCount: (room) => redis.hlen(keys.presenceConnections(room)),

    async rooms(max, names) {
      const found = new Set<string>();
      for (const nodeId of await redis.smembers(keys.presenceNodes)) {
        for (const pair of await redis.srandmember(keys.nodePresence(nodeId), ROOMS_SAMPLE)) {
          found.add((JSON.parse(pair) as [string, string])[0]);
          if (found.size >= max) break;
        }
        if (found.size >= max) break;
      }
      const rooms = [...found].sort();
      // Twice as many connections as names wanted: a member with several connections is listed once.
      const replies = await Promise.all(
        rooms.map((room) =>
          Promise.all([
            redis.hlen(keys.presenceMembers(room)),
            redis.hrandfield(keys.presenceConnections(room), names * 2, 'WITHVALUES') as Promise<string[]>,
          ]),
        ),
      );
      return rooms
        .map((room, i): PresenceRoomSummary => {
          const [members, flat] = replies[i]!;
          const sample = new Map<string, PresenceMeta>();
          for (let at = 1; at < flat.length && sample.size < names; at += 2) {
            const entry = JSON.parse(flat[at]!) as StoredEntry;
            if (!sample.has(entry.m)) sample.set(entry.m, entry.meta);
          }
          return { room, members, sample: [...sample].map(([id, meta]) => ({ id, meta })) };
        })
        .filter((r) => r.members > 0);
    },
  };
}
