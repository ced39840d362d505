import { createRoomHistory } from './history.js';
import { appendRouted } from './inbox-append-script.js';
import type { Keys } from './keys.js';
import { loadLuaScript } from './lua-script.js';
import type { RedisConnection } from './redis.js';
import { connectionGeneration, type ReplicaWait, waitForReplicas, waitsForReplicas } from './replica-wait.js';
import { createRoutingTable } from './routing.js';
import type { CommandTransport, KeptAnswer } from './transport/commands.js';
import { encodeCommandEnvelope } from './wire/commands.js';

/** Appends one envelope to an inbox and publishes it to the io-node (inbox-append.lua). */
const INBOX_APPEND = loadLuaScript(import.meta.url, 'inbox-append');

export interface RedisCommandTransportOptions {
  /**
   * Inbox entries older than this are trimmed when new ones are appended: how long an io-node may be cut
   * off from Redis and still read every command meant for it; also how long after its last heartbeat an
   * io-node still gets broadcasts.
   */
  inboxRetentionMs: number;
  /** How long the answers to a session's events are kept for its resends. */
  recoveryWindowMs: number;
  /** Replicas that must have the writes before `durable()` resolves (replica-wait.ts). @defaultValue no wait */
  replicaWait?: ReplicaWait;
  /**
   * Offer the one-round-trip path (a Lua script that looks rooms up and appends) when Redis is not a
   * Cluster; false always takes the two-step path. @defaultValue true
   */
  oneRoundTrip?: boolean;
  /**
   * A connection to send this turn's one-round-trip delivery on instead of `connection`, when one is
   * offered: an app-node's ingress reader between two reads, so that the delivery and the next read reach
   * Redis in one write (see the Streams ingress consumer's `lane`). Not used with a replica wait: `WAIT`
   * covers only the writes of the connection it is sent on, and the reader's next command blocks.
   * @defaultValue none
   */
  lane?: () => RedisConnection | undefined;
  /**
   * Publish each append sharded (SPUBLISH: carried by the inbox's shard alone) rather than plainly (to
   * every node of a Cluster); the io-nodes must subscribe the same way. @defaultValue on a Cluster only
   */
  shardedPushes?: boolean;
}

/**
 * The command path through Redis: the routing table (shared/routing.ts), one Stream per io-node as its
 * inbox (appended with NOMKSTREAM, so a purged inbox is never recreated by a late command; each append
 * is also published on the inbox's name, which is how the io-node receives it: the Stream is the record
 * it reads only to fill a gap), room history Streams and a hash of kept answers per session.
 */
export function createRedisCommandTransport(
  connection: RedisConnection,
  keys: Keys,
  options: RedisCommandTransportOptions,
): CommandTransport {
  const routing = createRoutingTable(connection, keys);
  const minId = () => Date.now() - options.inboxRetentionMs;
  // Off a Redis Cluster the common delivery takes one round trip (see inbox-append-script.ts).
  const oneRoundTrip = !connection.isCluster && options.oneRoundTrip !== false;
  // On a Cluster the pushes are sharded: carried by the inbox's shard only (inbox-append.lua).
  const pushArgs = (options.shardedPushes ?? connection.isCluster) ? ['s'] : [];
  const lane = waitsForReplicas(options.replicaWait) ? undefined : options.lane;
  const transport: CommandTransport = {
    roomNodes: (rooms) => routing.roomNodes(rooms),
    // A node whose heartbeat stopped less than the retention ago may be cut off, not dead: its inbox
    // keeps broadcasts for it (see RoutingTable).
    broadcastNodes: () => routing.liveNodes(minId()),
    countJoins: (nodeId, rooms) => routing.countJoins(nodeId, rooms),
    forget: (nodeId, rooms) => routing.forget(nodeId, rooms),
    async append(entries) {
      const list = [...entries];
      const since = String(minId());
      const ids = await Promise.all(
        list.map(([nodeId, cmds]) =>
          INBOX_APPEND.run(
            connection,
            [keys.inbox(nodeId)],
            [since, encodeCommandEnvelope(cmds), ...pushArgs],
          ),
        ),
      );
      return list.filter((_, i) => ids[i] === null).map(([nodeId]) => nodeId);
    },
    history: createRoomHistory(connection, keys),
    async remember(session, eid, answer) {
      const key = keys.sessionReplies(session);
      await Promise.all([
        connection.hset(key, eid, JSON.stringify(answer)),
        connection.pexpire(key, options.recoveryWindowMs),
      ]);
    },
    async earlierAnswer(session, eid) {
      const raw = await connection.hget(keys.sessionReplies(session), eid);
      return raw === null ? null : (JSON.parse(raw) as KeptAnswer);
    },
    generation: () => connectionGeneration(connection),
    durable: (since) => waitForReplicas(connection, options.replicaWait, since),
  };
  if (oneRoundTrip)
    transport.appendRouted = (routed, acks) =>
      appendRouted(lane?.() ?? connection, keys, routed, minId(), acks, connection);
  return transport;
}
