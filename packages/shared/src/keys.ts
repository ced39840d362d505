/**
 * Every Redis key, channel and queue name iocluster uses, built from one configurable prefix.
 *
 * Hash tags: BullMQ runs multi-key Lua scripts over a queue's keys, so in a Redis Cluster they must share
 * a slot; the BullMQ prefix is therefore `{<prefix>}` and every queue key starts with it. Keys read
 * together by one script or MULTI elsewhere (the registry) carry the same tag.
 */
export interface Keys {
  /** The configured prefix, untouched. */
  readonly prefix: string;
  /** BullMQ `prefix` option: hash-tagged so every queue key lands in one Cluster slot. */
  readonly bullPrefix: string;
  /** BullMQ queue that carries client events from io-nodes to app-nodes (with one partition). */
  readonly ingressQueue: string;
  /**
   * BullMQ queue (under {@link Keys.bullPrefix}) of the Streams ingress's dead letters: events given up on,
   * kept as failed jobs, retryable from bull-board.
   */
  readonly deadLetterQueue: string;
  /**
   * The ingress queue split into `count` BullMQ queues. With one, it is {@link Keys.ingressQueue} under
   * {@link Keys.bullPrefix} (the layout before partitions existed). With more, partition i is the queue
   * `ingress-<i>` under the BullMQ prefix `{<prefix>:p<i>}`: its own hash tag, so a Redis Cluster spreads
   * the partitions over its slots. See {@link ingressPartitionOf} for which one a client uses.
   */
  ingressPartitions(count: number): readonly IngressPartition[];
  /**
   * A client's state as its io-node last stored it (JSON `ClientInfo` with its version `v`), read by
   * app-nodes whose cache lacks the version a batch names. In the hash tag of the client's ingress
   * partition (of `partitions`, see {@link ingressPartitionOf}): a job holds clients of one partition,
   * so their states are read with one MGET on a Redis Cluster too.
   */
  clientState(socketId: string, partitions: number): string;
  /**
   * Stream of commands for one io-node (its inbox): app-nodes append, the io-node reads from the last
   * entry it applied, so nothing is lost while its connection is down. Tagged by node id, so a Redis
   * Cluster spreads the inboxes over its primaries.
   */
  inbox(nodeId: string): string;
  /**
   * Hash of the io-nodes that hold (or are about to hold) members of a room: field = node id, value =
   * members plus joins published and not yet applied. Tagged by room, like every per-room key.
   */
  roomNodes(room: string): string;
  /** Set of the rooms an io-node was counted in, so its entries can be purged when it dies. */
  nodeRooms(nodeId: string): string;
  /** Stream of a room's messages (its history), entry ids `0-<offset>`; with {@link Keys.historyMeta}. */
  history(room: string): string;
  /** Hash of a room's history position: `epoch` (changes when the history is lost) and last `offset`. */
  historyMeta(room: string): string;
  /** Hash of a client session (rooms, data, user, io-node) kept for recovery after a disconnect. */
  session(sessionId: string): string;
  /** Hash of the answers to a session's events, by event id: what a resent event is answered with. */
  sessionReplies(sessionId: string): string;
  /** Set of the sessions an io-node holds, so a purger can start their recovery window. */
  nodeSessions(nodeId: string): string;
  /**
   * Sorted set of io-nodes, scored by the expiry of their liveness record (ms since epoch): one member
   * per io-node until it is purged, whether live or expired. With `registryNode`, its liveness record.
   */
  readonly inboxNodes: string;
  /**
   * Presence roster of a room, per connection: hash socket id → JSON `{ m: member id, n: io-node id, meta,
   * t: joined at }`. Same tag as `presenceMembers` (and `roomNodes`): one Lua script updates both.
   */
  presenceConnections(room: string): string;
  /** Presence members of a room: hash member id → connections it has in the room (HLEN = member count). */
  presenceMembers(room: string): string;
  /** Set of `[room, socket id]` JSON pairs an io-node holds in presence rosters, so a purger finds them. */
  nodePresence(nodeId: string): string;
  /** Set of the io-nodes that may hold presence entries (each has a `nodePresence` set). */
  readonly presenceNodes: string;
  /** Occupancy of a room: hash io-node id → members it holds there (no field at 0; HLEN 0 = vacant). */
  occupancy(room: string): string;
  /** Set of the rooms an io-node has an occupancy count in, so a purger finds them when it dies. */
  nodeOccupancy(nodeId: string): string;
  /** Set of the io-nodes that may hold occupancy counts (each has a `nodeOccupancy` set). */
  readonly occupancyNodes: string;
  /** BullMQ queue of webhook deliveries (a batch of events per job), under `bullPrefix`. */
  readonly webhookQueue: string;
  /** The id of the stack using this prefix (cluster-id.ts): every node of the stack must share it. */
  readonly clusterId: string;
  /** Hash describing one io-node while it takes connections (its member of `inboxNodes` says if live). */
  registryNode(nodeId: string): string;
  /** Pub/sub channel announcing io-nodes joining and leaving. */
  readonly registryChannel: string;
  /** Sorted set of app-node ids scored by the expiry of their liveness record (ms since epoch). */
  readonly appRegistryIndex: string;
  /** Hash describing one app-node in the registry. */
  appRegistryNode(nodeId: string): string;
  /**
   * String holding the answer to an idempotent request (an emitter's publish with an idempotency key),
   * kept for the idempotency window. Tagged by the key itself: nothing else is read with it.
   */
  idempotency(key: string): string;
  /** Prefix of the server API's rate-limit counters: one string per client address (rate-limit-redis). */
  readonly rateLimitPrefix: string;
  /**
   * Pub/sub channel of a requester's replies (`ReplyInbox`): io-nodes publish their answers to request
   * commands there. Tagged by the requester's address, ready for sharded pub/sub on a Cluster.
   */
  replies(address: string): string;
  /**
   * Sorted set of a user's connections across the cluster (member `<io-node id>|<socket id>`, score: when
   * it connected): what `MAX_CONNECTIONS_PER_USER` counts, in one Lua script per connect.
   */
  userConnections(userId: string): string;
  /** Set of the users an io-node holds connections of, so a purger finds their entries. */
  nodeUsers(nodeId: string): string;
  /** Set of the io-nodes that may hold user connection entries (each has a `nodeUsers` set). */
  readonly userNodes: string;
  /** Free-form application key under the prefix (the example's chat history, say). */
  app(...parts: string[]): string;
  /** Glob that matches every key built here: for cleanup in tests and tools. */
  readonly patterns: readonly string[];
}

/** One BullMQ queue of the ingress: `new Queue(name, { prefix: bullPrefix })`. */
export interface IngressPartition {
  readonly index: number;
  readonly name: string;
  readonly bullPrefix: string;
  /**
   * The partition's Redis Stream (the Streams transport), in the same hash tag as its BullMQ queue so a
   * Redis Cluster keeps each partition's keys in one slot. App-nodes read it in the consumer group
   * {@link INGRESS_GROUP}.
   */
  readonly stream: string;
}

/** The consumer group every app-node reads the ingress streams in: competing consumers. */
export const INGRESS_GROUP = 'app-nodes';

/**
 * The ingress partition of a client: FNV-1a of its socket id modulo `count`, so every event of one
 * connection goes through the same queue.
 */
export function ingressPartitionOf(socketId: string, count: number): number {
  if (count <= 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < socketId.length; i++) {
    hash ^= socketId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % count;
}

/**
 * Makes a name safe inside a hash tag: Redis hashes what stands between the first `{` and the next `}`,
 * so a room named `a}b` would otherwise tag its keys `a` (fine) and a room named `}x` would tag nothing
 * (its keys would scatter over slots). Escaping `%`, `{` and `}` keeps every key of one name together.
 */
function escapeTag(name: string): string {
  return name.replace(/[%{}]/g, (c) => (c === '%' ? '%25' : c === '{' ? '%7B' : '%7D'));
}

const PREFIX_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/** Builds the names for one prefix; throws when the prefix could break key parsing. */
export function createKeys(prefix: string): Keys {
  if (!PREFIX_RE.test(prefix)) {
    throw new TypeError(`key prefix "${prefix}" must be 1-64 characters of letters, digits, '_', '.' or '-'`);
  }
  const tag = `{${prefix}}`;
  return Object.freeze({
    prefix,
    bullPrefix: tag,
    ingressQueue: 'ingress',
    deadLetterQueue: 'dead-letters',
    ingressPartitions: (count: number): readonly IngressPartition[] => {
      if (!Number.isInteger(count) || count < 1) {
        throw new TypeError(`ingress partitions must be a positive integer, got ${count}`);
      }
      if (count === 1)
        return [{ index: 0, name: 'ingress', bullPrefix: tag, stream: `${tag}:ingress:stream` }];
      return Array.from({ length: count }, (_, index) => ({
        index,
        name: `ingress-${index}`,
        bullPrefix: `{${prefix}:p${index}}`,
        stream: `{${prefix}:p${index}}:ingress-${index}:stream`,
      }));
    },
    clientState: (socketId: string, partitions: number) =>
      partitions <= 1
        ? `${tag}:client:${socketId}`
        : `{${prefix}:p${ingressPartitionOf(socketId, partitions)}}:client:${socketId}`,
    inbox: (nodeId: string) => `${prefix}:node:{${escapeTag(nodeId)}}:inbox`,
    roomNodes: (room: string) => `${prefix}:room:{${escapeTag(room)}}:nodes`,
    nodeRooms: (nodeId: string) => `${prefix}:node:{${escapeTag(nodeId)}}:rooms`,
    history: (room: string) => `${prefix}:room:{${escapeTag(room)}}:history`,
    historyMeta: (room: string) => `${prefix}:room:{${escapeTag(room)}}:history-meta`,
    session: (sessionId: string) => `${prefix}:session:{${escapeTag(sessionId)}}`,
    sessionReplies: (sessionId: string) => `${prefix}:session:{${escapeTag(sessionId)}}:replies`,
    nodeSessions: (nodeId: string) => `${prefix}:node:{${escapeTag(nodeId)}}:sessions`,
    inboxNodes: `${tag}:inboxes`,
    presenceConnections: (room: string) => `${prefix}:room:{${escapeTag(room)}}:presence`,
    presenceMembers: (room: string) => `${prefix}:room:{${escapeTag(room)}}:members`,
    nodePresence: (nodeId: string) => `${prefix}:node:{${escapeTag(nodeId)}}:presence`,
    presenceNodes: `${tag}:presence-nodes`,
    occupancy: (room: string) => `${prefix}:room:{${escapeTag(room)}}:occupancy`,
    nodeOccupancy: (nodeId: string) => `${prefix}:node:{${escapeTag(nodeId)}}:occupancy`,
    occupancyNodes: `${tag}:occupancy-nodes`,
    webhookQueue: 'webhooks',
    clusterId: `${tag}:cluster-id`,
    registryNode: (nodeId: string) => `${tag}:registry:node:${nodeId}`,
    registryChannel: `${prefix}:registry:events`,
    appRegistryIndex: `${tag}:registry:apps`,
    appRegistryNode: (nodeId: string) => `${tag}:registry:app:${nodeId}`,
    idempotency: (key: string) => `${prefix}:idempotent:{${escapeTag(key)}}`,
    rateLimitPrefix: `${prefix}:rate-limit:`,
    replies: (address: string) => `${prefix}:replies:{${escapeTag(address)}}`,
    userConnections: (userId: string) => `${prefix}:user:{${escapeTag(userId)}}:connections`,
    nodeUsers: (nodeId: string) => `${prefix}:node:{${escapeTag(nodeId)}}:users`,
    userNodes: `${tag}:user-nodes`,
    app: (...parts: string[]) => `${prefix}:app:${parts.join(':')}`,
    // Ingress partitions' keys start with `{<prefix>:p<i>}`, which neither of the first two matches.
    patterns: Object.freeze([`${tag}:*`, `${prefix}:*`, `{${prefix}:p*}:*`]),
  });
}
