import {
  assertHeartbeat,
  assertInteger,
  type ClientStateStore,
  type CommandSubscriber,
  checkOptions,
  type IngressProducer,
  type Logger,
  type RedisTarget,
  type ReplicaWait,
  type SocketIoParser,
  settingDefaults,
  silentLogger,
  withDefaults,
} from '@iocluster/shared';
import type { ServerOptions } from 'socket.io';
import type { CustomCommandHandler } from './command-applier.js';
import type { AuthenticateHook } from './handshake.js';
import type { JwtAuthOptions } from './jwt-auth.js';

export interface IoNodeOptions {
  /** Redis URL or target (Sentinel, Cluster). */
  redis: RedisTarget | string;
  /** Prefix of every Redis key and channel. @defaultValue 'iocluster' */
  prefix?: string;
  /**
   * BullMQ queues the ingress is split into (`INGRESS_PARTITIONS`); every io-node, app-node and frontend
   * of a deployment must use the same count. @defaultValue 1
   */
  ingressPartitions?: number;
  /**
   * How client events reach app-nodes (`INGRESS_TRANSPORT`): `streams`, a Redis Stream per partition read
   * by every app-node in one consumer group; `bullmq`, a BullMQ queue per partition. Every io-node,
   * app-node and frontend of a deployment must agree. Ignored when `ingress` is given. @defaultValue 'streams'
   */
  ingressTransport?: 'streams' | 'bullmq';
  /**
   * `CLUSTER_ID`: the id every node of this stack shares. A key prefix that another stack (another id)
   * uses on the same Redis refuses this node, instead of the two stacks merging.
   * @defaultValue none: the node joins the stack recorded under the prefix, or records a generated id
   */
  clusterId?: string;
  /** Unique id of this node. @defaultValue `<hostname>-<random>` */
  nodeId?: string;
  /** Interface to listen on. @defaultValue '0.0.0.0' */
  host?: string;
  /** Port to listen on; 0 picks a free one. @defaultValue 3001 */
  port?: number;
  /**
   * URL clients reach this node at (registry, logs); `{port}` in it stands for the port listened on.
   * @defaultValue `http://127.0.0.1:<port>`
   */
  publicUrl?: string;
  /**
   * Socket.IO packet encoding: `msgpack` (socket.io-msgpack-parser) or Socket.IO's own. Clients must use
   * the same. @defaultValue 'default'
   */
  parser?: SocketIoParser;
  /** Origins allowed by CORS, or '*' for any. @defaultValue '*' */
  corsOrigins?: readonly string[] | '*';
  /** Ack answered with a TIMEOUT error when no app-node replied by then. @defaultValue 30000 */
  eventTimeoutMs?: number;
  /** Per-client ordering of handlers and of what they emit. @defaultValue true */
  ordering?: boolean;
  /** Most client events in one queue job. @defaultValue 256 */
  batchMaxEvents?: number;
  /**
   * Jobs of this node in the queue or running, awaiting their replies, before new events wait for one of
   * them to finish and then go out together in the next job (Nagle's algorithm for the queue). Below the
   * cap events leave at once; at it, the per-job cost of the queue is shared by more events. A low cap
   * also couples clients: every client in a job waits for the job's slowest handler. @defaultValue 32
   */
  maxJobsInFlight?: number;
  /** Events waiting for one client beyond this are refused with OVERLOADED. @defaultValue 10000 */
  maxQueuedPerClient?: number;
  /**
   * How long a client of `@iocluster/client` that lost its connection may come back, to any io-node, and
   * get its rooms, data and missed room messages. Match the app-nodes' `recoveryWindowMs`.
   * @defaultValue 120000
   */
  recoveryWindowMs?: number;
  /**
   * Events of all clients waiting on this node — while Redis is unreachable they wait here and go to the
   * queue when it is back — beyond which new ones are refused with OVERLOADED. @defaultValue 100000
   */
  maxPendingEvents?: number;
  /**
   * How long inboxes keep commands for an io-node cut off from Redis; a peer whose heartbeat expired is
   * purged (inbox and routing entries) only this long after. Match the app-nodes' `inboxRetentionMs`.
   * @defaultValue 120000
   */
  inboxRetentionMs?: number;
  /** How long `close()` waits for in-flight events before disconnecting clients. @defaultValue 10000 */
  drainTimeoutMs?: number;
  /**
   * Replicas that must have a write before it counts as done (`WAIT` after it; see {@link ReplicaWait}):
   * with `{ replicas: 1 }` a failover to a replica cannot lose an event this node accepted.
   * @defaultValue `{ replicas: 0, timeoutMs: 1000 }`: no wait
   */
  replicaWait?: ReplicaWait;
  /**
   * Decides the handshake: return the user (any JSON value; null for anonymous) or throw to refuse the
   * connection (the client gets `connect_error` with the message, and `data` when the error has one).
   * With `jwt` set it runs after the token was verified and gets its claims.
   * @defaultValue the token's claims with `jwt`, else every client is accepted as anonymous
   */
  authenticate?: AuthenticateHook;
  /**
   * JWT verification of `auth.token` at the handshake and expiry during the connection; a client without
   * a valid token is refused (UNAUTHORIZED, TOKEN_EXPIRED). The claims become `socket.user`.
   * @defaultValue off
   */
  jwt?: JwtAuthOptions;
  /** Events per second one client may send, sustained (token bucket); 0: no limit. @defaultValue 200 */
  clientEventRate?: number;
  /** Events one client may send at once above the rate. @defaultValue 100 */
  clientEventBurst?: number;
  /** Refused (RATE_LIMITED) events within 10 s after which the client is disconnected; 0: never. @defaultValue 1000 */
  clientRateDisconnectAfter?: number;
  /**
   * How long a client disconnected for flooding is refused (RATE_LIMITED) when it reconnects: by token
   * subject when it had one, else by address (behind a proxy without tokens that is the proxy's: set 0).
   * @defaultValue 10000
   */
  abuseBanMs?: number;
  /** Largest client event in bytes on the wire, binary attachments included (PAYLOAD_TOO_LARGE). @defaultValue 65536 */
  maxPayloadBytes?: number;
  /** Clients held at once; the next handshake gets SERVER_FULL; 0: no limit. @defaultValue 50000 */
  maxConnections?: number;
  /**
   * Connections one user (the `id` or `sub` of what `authenticate` or the JWT gave) may hold across the
   * whole cluster, counted atomically in Redis; the next handshake gets USER_CONNECTION_LIMIT; 0: no limit.
   * @defaultValue 0
   */
  maxConnectionsPerUser?: number;
  /** New connections per second per remote address (RATE_LIMITED); 0: no limit. @defaultValue 0 */
  connectionsPerSecondPerIp?: number;
  /** Ingress jobs waiting past which new events get OVERLOADED; 0: no bound. @defaultValue 10000 */
  queueMaxWaiting?: number;
  /** How often the queue depth is read for `queueMaxWaiting`. @defaultValue 500 */
  queueCheckIntervalMs?: number;
  /** Hooks for custom command types, by name. @defaultValue none */
  commandHandlers?: Readonly<Record<string, CustomCommandHandler>>;
  /** Extra Socket.IO server options (transports default to websocket and polling). @defaultValue {} */
  socketIo?: Partial<ServerOptions>;
  /** How often the node refreshes its registry record. @defaultValue 2000 */
  heartbeatIntervalMs?: number;
  /**
   * How long the record outlives the last heartbeat: a node that stops heartbeating leaves every reader's
   * view within this plus the reader's poll interval. Must exceed `heartbeatIntervalMs`.
   * @defaultValue 6000
   */
  heartbeatTtlMs?: number;
  /** Version shown in the registry. @defaultValue the io-node package version */
  version?: string;
  /**
   * Rooms whose members are counted cluster-wide (`OCCUPANCY_ROOMS`: globs, `*` for all), so app-nodes get
   * `room:occupied` / `room:vacated` once per change (docs/occupancy.md). Every io-node must use the same.
   * @defaultValue none: occupancy off
   */
  occupancyRooms?: readonly string[];
  /** @defaultValue a silent logger */
  logger?: Logger;
  /**
   * Where client events go (the producer side of the ingress); the io-node closes it.
   * @defaultValue the BullMQ queues in `redis`
   */
  ingress?: IngressProducer;
  /**
   * Where this node's commands come from (its inbox); the io-node starts and closes it.
   * @defaultValue the node's inbox Stream in `redis`, with its heartbeat
   */
  commands?: CommandSubscriber;
  /**
   * Where the states of clients are kept for app-nodes, so batches can name them by version instead of
   * carrying them (slim events). @defaultValue one key per client in `redis`
   */
  clientStates?: ClientStateStore;
}

/** The options with every default applied, validated. */
export type ResolvedIoNodeOptions = ReturnType<typeof resolveIoNodeOptions>;

/**
 * Applies the defaults, then validates; throws a TypeError naming the option that is wrong. Options with a
 * variable take their defaults and bounds from the settings table (`docs/configuration.md`).
 */
export function resolveIoNodeOptions(options: IoNodeOptions) {
  const opts = withDefaults(
    {
      ...settingDefaults('io-node'),
      maxQueuedPerClient: 10_000,
      drainTimeoutMs: 10_000,
      commandHandlers: {},
      socketIo: {},
      logger: silentLogger(),
    },
    options,
  );
  checkOptions('IoNodeOptions', 'io-node', opts);
  assertHeartbeat('IoNodeOptions', opts.heartbeatIntervalMs, opts.heartbeatTtlMs);
  assertInteger('IoNodeOptions', 'maxQueuedPerClient', opts.maxQueuedPerClient, 1);
  assertInteger('IoNodeOptions', 'drainTimeoutMs', opts.drainTimeoutMs, 1);
  return opts;
}
