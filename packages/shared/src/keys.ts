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
  /** BullMQ queue that carries client events from io-nodes to app-nodes. */
  readonly ingressQueue: string;
  /** Pub/sub channel of commands for one io-node (emit to its client, join, reply...). */
  nodeChannel(nodeId: string): string;
  /** Pub/sub channel every io-node subscribes to (room and broadcast emits). */
  readonly broadcastChannel: string;
  /** Sorted set of live io-node ids scored by heartbeat expiry (ms since epoch). */
  readonly registryIndex: string;
  /** Hash describing one io-node in the registry. */
  registryNode(nodeId: string): string;
  /** Pub/sub channel announcing io-nodes joining and leaving. */
  readonly registryChannel: string;
  /** Sorted set of live app-node ids scored by heartbeat expiry (ms since epoch). */
  readonly appRegistryIndex: string;
  /** Hash describing one app-node in the registry. */
  appRegistryNode(nodeId: string): string;
  /** Free-form application key under the prefix (the example's chat history, say). */
  app(...parts: string[]): string;
  /** Glob that matches every key built here: for cleanup in tests and tools. */
  readonly patterns: readonly string[];
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
    nodeChannel: (nodeId: string) => `${prefix}:cmd:node:${nodeId}`,
    broadcastChannel: `${prefix}:cmd:all`,
    registryIndex: `${tag}:registry`,
    registryNode: (nodeId: string) => `${tag}:registry:node:${nodeId}`,
    registryChannel: `${prefix}:registry:events`,
    appRegistryIndex: `${tag}:registry:apps`,
    appRegistryNode: (nodeId: string) => `${tag}:registry:app:${nodeId}`,
    app: (...parts: string[]) => `${prefix}:app:${parts.join(':')}`,
    patterns: Object.freeze([`${tag}:*`, `${prefix}:*`]),
  });
}
