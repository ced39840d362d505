import type { Keys } from './keys.js';
import { loadLuaScript } from './lua-script.js';
import type { RedisConnection } from './redis.js';

/** What a write of a room's count did to the room cluster-wide. */
export type OccupancyTransition = 'occupied' | 'vacated';

/**
 * Room occupancy in Redis. Per room, under the room's hash tag (one Cluster slot, like its routing and
 * presence entries): a hash io-node id → members that node holds there, with no field for a node holding
 * none, so the room has members anywhere exactly when the hash is not empty. Each io-node writes its own
 * absolute counts with one Lua script that reports the room going from empty to not (`occupied`) or back
 * (`vacated`): that report is the one place the events are decided, so each happens once however many
 * io-nodes race, and a write repeated after a failure (absolute, not a delta) reports nothing again.
 *
 * Per io-node, a set of the rooms it has a count in, so whoever purges a dead node finds them; and one
 * set of the nodes that have such a set. The index gets a room before its count does and loses it after,
 * so a count is never left without its index entry.
 */
export interface OccupancyStore {
  /**
   * Writes a node's member counts (0 removes its count), in order; resolves with the rooms whose
   * occupancy these writes changed. `indexed` are rooms the node already has in its index (written by an
   * earlier call that succeeded), which saves their index write.
   */
  set(
    nodeId: string,
    counts: ReadonlyMap<string, number>,
    indexed: (room: string) => boolean,
  ): Promise<Map<string, OccupancyTransition>>;
  /** Removes every count of a node (it died or is closing); resolves with the rooms this call vacated. */
  purgeNode(nodeId: string): Promise<string[]>;
  /** The io-nodes that may still hold counts. */
  nodes(): Promise<string[]>;
  /** Members of a room across the cluster (the sum of the per-node counts). */
  members(room: string): Promise<number>;
}

const SET = loadLuaScript(import.meta.url, 'occupancy-set');

/** Rooms read at once by one purge call: bounds the replies held in memory. */
const PURGE_CHUNK = 500;

function transitionOf(reply: unknown): OccupancyTransition | undefined {
  const n = Number(reply);
  return n === 1 ? 'occupied' : n === -1 ? 'vacated' : undefined;
}

export function createOccupancyStore(redis: RedisConnection, keys: Keys): OccupancyStore {
  return {
    async set(nodeId, counts, indexed) {
      const entries = [...counts];
      const adding = entries.filter(([room, n]) => n > 0 && !indexed(room)).map(([room]) => room);
      if (adding.length > 0) {
        await Promise.all([
          redis.sadd(keys.occupancyNodes, nodeId),
          redis.sadd(keys.nodeOccupancy(nodeId), ...adding),
        ]);
      }
      const replies = await Promise.all(
        entries.map(([room, n]) => SET.run(redis, [keys.occupancy(room)], [nodeId, n])),
      );
      const emptied = entries.filter(([, n]) => n <= 0).map(([room]) => room);
      if (emptied.length > 0) await redis.srem(keys.nodeOccupancy(nodeId), ...emptied);
      const changed = new Map<string, OccupancyTransition>();
      entries.forEach(([room], i) => {
        const transition = transitionOf(replies[i]);
        if (transition) changed.set(room, transition);
      });
      return changed;
    },

    async purgeNode(nodeId) {
      const index = keys.nodeOccupancy(nodeId);
      const vacated: string[] = [];
      for (;;) {
        const rooms = await redis.srandmember(index, PURGE_CHUNK);
        if (rooms.length === 0) break;
        const replies = await Promise.all(
          rooms.map((room) => SET.run(redis, [keys.occupancy(room)], [nodeId, 0])),
        );
        rooms.forEach((room, i) => {
          if (transitionOf(replies[i]) === 'vacated') vacated.push(room);
        });
        // Only what was read is cleared: a node wrongly thought dead may be adding rooms meanwhile.
        await redis.srem(index, ...rooms);
      }
      await redis.srem(keys.occupancyNodes, nodeId);
      return vacated;
    },

    nodes: () => redis.smembers(keys.occupancyNodes),

    async members(room) {
      const counts = await redis.hvals(keys.occupancy(room));
      return counts.reduce((sum, n) => sum + Number(n), 0);
    },
  };
}
