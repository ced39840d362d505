import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  bool,
  directory,
  type Env,
  fileContents,
  hostPorts,
  int,
  list,
  oneOf,
  origins,
  read,
  token,
  url,
  urlPath,
  workers,
} from './config-env.js';
import { DEFAULTS } from './defaults.js';
import { ConfigError } from './errors.js';
import { LOG_LEVELS, type LogLevel } from './logger.js';
import type { RedisTarget } from './redis.js';
import type { ReplicaWait } from './replica-wait.js';

const {
  cluster: clusterDefaults,
  ioNode: ioNodeDefaults,
  limits: limitDefaults,
  appNode: appNodeDefaults,
  frontend: frontendDefaults,
} = DEFAULTS;

/** JWS algorithms io-nodes accept for client tokens. */
export type JwtAlgorithm =
  | 'HS256'
  | 'HS384'
  | 'HS512'
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA';
export const JWT_ALGORITHMS: readonly JwtAlgorithm[] = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];

/** JWT verification of client handshakes; `undefined` in {@link Config.auth} when no key is set. */
export interface JwtAuthConfig {
  /** `AUTH_JWT_SECRET`: shared secret for HS256/384/512 (at least 32 bytes). */
  readonly secret: string | undefined;
  /** Contents of the PEM file named by `AUTH_JWT_PUBLIC_KEY_FILE` (SPKI public key: RS*, PS*, ES*, EdDSA). */
  readonly publicKeyPem: string | undefined;
  /** `AUTH_JWT_JWKS_URL`: a JSON Web Key Set fetched (and cached) over http(s). */
  readonly jwksUrl: string | undefined;
  /** `AUTH_JWT_ISSUER`: required `iss` claim. */
  readonly issuer: string | undefined;
  /** `AUTH_JWT_AUDIENCE`: required `aud` claim (comma-separated: any of them). */
  readonly audience: readonly string[] | undefined;
  /** `AUTH_JWT_ALGORITHMS`: accepted algorithms; by default those the configured key can verify. */
  readonly algorithms: readonly JwtAlgorithm[] | undefined;
  /** `AUTH_EXPIRY_NOTICE_MS`: how long before `exp` the client is asked for a fresh token. */
  readonly expiryNoticeMs: number;
}

/** Bounds on what one client, one io-node and the cluster take in (`docs/security.md`). */
export interface LimitsConfig {
  /** `CLIENT_EVENT_RATE`: events per second one client may send, sustained (0: no limit). */
  readonly clientEventRate: number;
  /** `CLIENT_EVENT_BURST`: events a client may send at once above the rate (token bucket size). */
  readonly clientEventBurst: number;
  /** `CLIENT_RATE_DISCONNECT_AFTER`: refused events in 10 s after which the client is disconnected (0: never). */
  readonly clientRateDisconnectAfter: number;
  /** `CLIENT_ABUSE_BAN_MS`: how long a client disconnected for flooding is refused when it reconnects (0: not). */
  readonly abuseBanMs: number;
  /** `MAX_PAYLOAD_BYTES`: largest client event on the wire, binary attachments included. */
  readonly maxPayloadBytes: number;
  /** `MAX_CONNECTIONS`: clients one io-node holds; the next is refused with SERVER_FULL (0: no limit). */
  readonly maxConnections: number;
  /** `CONNECTIONS_PER_SECOND_PER_IP`: new connections per second from one address (0: no limit). */
  readonly connectionsPerSecondPerIp: number;
  /** `QUEUE_MAX_WAITING`: ingress jobs waiting past which io-nodes answer OVERLOADED (0: no limit). */
  readonly queueMaxWaiting: number;
  /** `QUEUE_CHECK_INTERVAL_MS`: how often an io-node reads the queue's waiting count. */
  readonly queueCheckIntervalMs: number;
}

export type BalanceStrategy = 'fewest-connections' | 'random' | 'round-robin';
export const BALANCE_STRATEGIES: readonly BalanceStrategy[] = ['fewest-connections', 'random', 'round-robin'];
/** Socket.IO packet encoding between clients and io-nodes; both sides must use the same one. */
export type SocketIoParser = 'default' | 'msgpack';
export const SOCKETIO_PARSERS: readonly SocketIoParser[] = ['default', 'msgpack'];
/**
 * Set by a worker supervisor (worker-supervisor.ts) on the processes it forks: the worker's index. A
 * process that has it runs one node and never supervises.
 */
export const WORKER_INDEX_VAR = 'IOCLUSTER_WORKER_INDEX';
/** What `{port}` in `IO_NODE_PUBLIC_URL` stands for: the port the io-node listens on. */
export const PORT_PLACEHOLDER = '{port}';

/** Everything the processes read from the environment, parsed and validated once by {@link loadConfig}. */
export interface Config {
  readonly redis: RedisTarget;
  /**
   * `REDIS_WAIT_REPLICAS`, `REDIS_WAIT_TIMEOUT_MS`: replicas that must have an accepted event or a
   * command before it counts as written (WAIT); 0 (the default) waits for none.
   */
  readonly redisWait: ReplicaWait;
  /** `IOCLUSTER_PREFIX`: prefix of every Redis key and channel. */
  readonly prefix: string;
  /** `CLUSTER_ID`: the id every node of the stack shares (cluster-id.ts); unset, nodes join the recorded one. */
  readonly clusterId: string | undefined;
  /**
   * `INGRESS_PARTITIONS`: BullMQ queues the ingress is split into, each in its own Cluster slot; a client
   * always uses the same one. Every io-node, app-node and frontend of a deployment must agree on it.
   */
  readonly ingressPartitions: number;
  /** `LOG_LEVEL` */
  readonly logLevel: LogLevel;
  /** `LOG_PRETTY`: human-readable logs (needs pino-pretty); JSON lines otherwise. */
  readonly logPretty: boolean;
  /** `IOCLUSTER_WORKER_INDEX`: set only in a process a worker supervisor forked (its index from 0). */
  readonly workerIndex: number | undefined;
  readonly ioNode: {
    /** `IO_NODE_ID`; defaults to `<hostname>-<random>` so restarts are distinct nodes. */
    readonly nodeId: string;
    /** `IO_NODE_HOST` */
    readonly host: string;
    /** `IO_NODE_PORT` (0 picks a free port) */
    readonly port: number;
    /**
     * `IO_NODE_PUBLIC_URL`: the URL clients use to reach this node; derived from host/port when unset.
     * `{port}` in it stands for the port listened on.
     */
    readonly publicUrl: string | undefined;
    /** `IO_NODE_WORKERS`: io-node processes one command runs (`auto`: one per core). */
    readonly workers: number;
    /** `SOCKETIO_PARSER`: `default` (Socket.IO's JSON + binary attachments) or `msgpack`. */
    readonly parser: SocketIoParser;
    /** `IO_NODE_CORS_ORIGINS`: comma-separated allowed origins, or `*`. */
    readonly corsOrigins: readonly string[] | '*';
    /** `EVENT_TIMEOUT_MS`: an event's ack gets a TIMEOUT error if no app-node answered by then. */
    readonly eventTimeoutMs: number;
    /** `ORDERING`: `on` keeps per-client order (default); `off` sends events without waiting. */
    readonly ordering: boolean;
    /** `BATCH_MAX_EVENTS`: most client events carried by one queue job. */
    readonly batchMaxEvents: number;
    /** `MAX_JOBS_IN_FLIGHT`: this node's unanswered jobs before new events gather for the next one. */
    readonly maxJobsInFlight: number;
    /** `MAX_PENDING_EVENTS`: events waiting on this node (e.g. while Redis is down) before OVERLOADED. */
    readonly maxPendingEvents: number;
    /** `RECOVERY_WINDOW_MS`: how long a disconnected client's session waits for it to come back. */
    readonly recoveryWindowMs: number;
    /** `INBOX_RETENTION_MS`: how long a peer whose heartbeat expired keeps its inbox and routing. */
    readonly inboxRetentionMs: number;
    /** `HEARTBEAT_INTERVAL_MS`: registry refresh period. */
    readonly heartbeatIntervalMs: number;
    /** `HEARTBEAT_TTL_MS`: a node missing heartbeats this long drops out of the registry. */
    readonly heartbeatTtlMs: number;
  };
  /** JWT authentication of clients on io-nodes; undefined when no `AUTH_JWT_*` key is set. */
  readonly auth: JwtAuthConfig | undefined;
  readonly limits: LimitsConfig;
  readonly appNode: {
    /** `APP_NODE_ID`; defaults to `app-<hostname>-<random>`. */
    readonly nodeId: string;
    /** `APP_NODE_WORKERS`: app-node processes one command runs (`auto`: one per core). */
    readonly workers: number;
    /** `APP_NODE_CONCURRENCY`: jobs one app-node runs at once. */
    readonly concurrency: number;
    /** `LOCK_DURATION_MS`: BullMQ job lock; a dead worker's job is retried after about this long. */
    readonly lockDurationMs: number;
    /** `STALLED_INTERVAL_MS`: how often workers look for jobs whose lock expired. */
    readonly stalledIntervalMs: number;
    /** `MAX_STALLED_COUNT`: how many times a job may lose its worker before it is failed. */
    readonly maxStalledCount: number;
    /**
     * `COMMAND_APPEND_SCRIPT`: off a Redis Cluster, deliver commands that need no join or history step
     * with one Lua script (look-up and inbox appends in one round trip); `off` takes two round trips.
     */
    readonly commandAppendScript: boolean;
    /** `INBOX_RETENTION_MS`: how long commands wait in an io-node's inbox for it to come back. */
    readonly inboxRetentionMs: number;
    /** `RECOVERY_WINDOW_MS`: how long the answers to a client's events are kept for its resends. */
    readonly recoveryWindowMs: number;
    /** `HISTORY_ROOMS`: comma-separated globs of rooms that keep history (`chat:*,lobby`); none when unset. */
    readonly historyRooms: readonly string[];
    /** `HISTORY_MAX_LENGTH`: messages kept per room. */
    readonly historyMaxLength: number;
    /** `HISTORY_TTL_MS`: age past which messages are dropped, and a quiet room's history expires. */
    readonly historyTtlMs: number;
    /**
     * `METRICS_PORT`: port of the app-node's HTTP server (`/healthz`, `/readyz`, `/metrics`); 0 picks a
     * free one. Unset: no server (several app-nodes on one host would otherwise collide on a default).
     */
    readonly metricsPort: number | undefined;
    /** `METRICS_HOST`: interface of that server. */
    readonly metricsHost: string;
  };
  readonly frontend: {
    /** `FRONTEND_HOST` */
    readonly host: string;
    /** `FRONTEND_PORT` */
    readonly port: number;
    /** `FRONTEND_STRATEGY`: default pick for `/api/connect`. */
    readonly strategy: BalanceStrategy;
    /** `FRONTEND_PROXY`: forward Socket.IO traffic to io-nodes through the frontend. */
    readonly proxy: boolean;
    /** `FRONTEND_PROXY_PATH`: Socket.IO path forwarded in proxy mode (starts and ends with `/`). */
    readonly proxyPath: string;
    /** `FRONTEND_STATIC_DIR`: directory of static pages to serve (absolute); none when unset. */
    readonly staticDir: string | undefined;
    /** `FRONTEND_REGISTRY_REFRESH_MS`: how often the frontend re-reads the io-node registry. */
    readonly registryRefreshMs: number;
    /** `ADMIN_TOKEN`: enables `/admin`, which asks for this token; unset, there is no admin view. */
    readonly adminToken: string | undefined;
  };
}

function redisTarget(env: Env): RedisTarget {
  const cluster = hostPorts(env, 'REDIS_CLUSTER_NODES');
  const sentinels = hostPorts(env, 'REDIS_SENTINELS');
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:']);
  if (cluster && sentinels) throw new ConfigError('set REDIS_CLUSTER_NODES or REDIS_SENTINELS, not both');
  if (cluster) return { kind: 'cluster', nodes: cluster, password: read(env, 'REDIS_PASSWORD') };
  if (sentinels) {
    const name = read(env, 'REDIS_SENTINEL_NAME');
    if (!name) throw new ConfigError('REDIS_SENTINEL_NAME is required with REDIS_SENTINELS');
    return { kind: 'sentinel', sentinels, name, password: read(env, 'REDIS_PASSWORD') };
  }
  return { kind: 'standalone', url: redisUrl ?? 'redis://127.0.0.1:6379' };
}

function jwtAuth(env: Env): JwtAuthConfig | undefined {
  const secret = read(env, 'AUTH_JWT_SECRET');
  const publicKeyPem = fileContents(env, 'AUTH_JWT_PUBLIC_KEY_FILE');
  const jwksUrl = url(env, 'AUTH_JWT_JWKS_URL', ['http:', 'https:']);
  const keys = [secret, publicKeyPem, jwksUrl].filter((key) => key !== undefined).length;
  if (keys === 0) return undefined;
  if (keys > 1) {
    throw new ConfigError('set one of AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY_FILE and AUTH_JWT_JWKS_URL');
  }
  if (secret !== undefined && Buffer.byteLength(secret) < 32) {
    throw new ConfigError('AUTH_JWT_SECRET must be at least 32 bytes (256 bits) long');
  }
  if (publicKeyPem !== undefined && !publicKeyPem.includes('-----BEGIN PUBLIC KEY-----')) {
    throw new ConfigError('AUTH_JWT_PUBLIC_KEY_FILE must hold a PEM public key (-----BEGIN PUBLIC KEY-----)');
  }
  const algorithms = list(env, 'AUTH_JWT_ALGORITHMS');
  for (const algorithm of algorithms ?? []) {
    if (!(JWT_ALGORITHMS as readonly string[]).includes(algorithm)) {
      throw new ConfigError(
        `AUTH_JWT_ALGORITHMS must list some of ${JWT_ALGORITHMS.join(', ')}, got "${algorithm}"`,
      );
    }
  }
  return {
    secret,
    publicKeyPem,
    jwksUrl,
    issuer: read(env, 'AUTH_JWT_ISSUER'),
    audience: list(env, 'AUTH_JWT_AUDIENCE'),
    algorithms: algorithms as readonly JwtAlgorithm[] | undefined,
    expiryNoticeMs: int(env, 'AUTH_EXPIRY_NOTICE_MS', 30_000, 100, 86_400_000),
  };
}

function limits(env: Env): LimitsConfig {
  return {
    clientEventRate: int(env, 'CLIENT_EVENT_RATE', limitDefaults.clientEventRate, 0, 1_000_000),
    clientEventBurst: int(env, 'CLIENT_EVENT_BURST', limitDefaults.clientEventBurst, 1, 1_000_000),
    clientRateDisconnectAfter: int(
      env,
      'CLIENT_RATE_DISCONNECT_AFTER',
      limitDefaults.clientRateDisconnectAfter,
      0,
      100_000_000,
    ),
    abuseBanMs: int(env, 'CLIENT_ABUSE_BAN_MS', limitDefaults.abuseBanMs, 0, 86_400_000),
    maxPayloadBytes: int(env, 'MAX_PAYLOAD_BYTES', limitDefaults.maxPayloadBytes, 256, 100_000_000),
    maxConnections: int(env, 'MAX_CONNECTIONS', limitDefaults.maxConnections, 0, 10_000_000),
    connectionsPerSecondPerIp: int(
      env,
      'CONNECTIONS_PER_SECOND_PER_IP',
      limitDefaults.connectionsPerSecondPerIp,
      0,
      1_000_000,
    ),
    queueMaxWaiting: int(env, 'QUEUE_MAX_WAITING', limitDefaults.queueMaxWaiting, 0, 100_000_000),
    queueCheckIntervalMs: int(env, 'QUEUE_CHECK_INTERVAL_MS', limitDefaults.queueCheckIntervalMs, 10, 60_000),
  };
}

/** Parses and validates the environment once; throws a {@link ConfigError} naming the bad variable. */
function clusterIdOf(env: Env): string | undefined {
  const id = read(env, 'CLUSTER_ID');
  if (id !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(id)) {
    throw new ConfigError(`CLUSTER_ID must be 1-64 letters, digits, '_', '.' or '-', got "${id}"`);
  }
  return id;
}

export function loadConfig(env: Env = process.env): Config {
  const prefix = read(env, 'IOCLUSTER_PREFIX') ?? clusterDefaults.prefix;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) {
    throw new ConfigError(`IOCLUSTER_PREFIX must be 1-64 letters, digits, '_', '.' or '-', got "${prefix}"`);
  }
  const heartbeatIntervalMs = int(
    env,
    'HEARTBEAT_INTERVAL_MS',
    clusterDefaults.heartbeatIntervalMs,
    100,
    60_000,
  );
  const heartbeatTtlMs = int(env, 'HEARTBEAT_TTL_MS', clusterDefaults.heartbeatTtlMs, 200, 600_000);
  if (heartbeatTtlMs <= heartbeatIntervalMs) {
    throw new ConfigError(
      `HEARTBEAT_TTL_MS (${heartbeatTtlMs}) must be larger than HEARTBEAT_INTERVAL_MS (${heartbeatIntervalMs})`,
    );
  }
  const lockDurationMs = int(env, 'LOCK_DURATION_MS', appNodeDefaults.lockDurationMs, 1_000, 600_000);
  const recoveryWindowMs = int(
    env,
    'RECOVERY_WINDOW_MS',
    clusterDefaults.recoveryWindowMs,
    1_000,
    86_400_000,
  );
  const inboxRetentionMs = int(
    env,
    'INBOX_RETENTION_MS',
    clusterDefaults.inboxRetentionMs,
    1_000,
    86_400_000,
  );
  const config: Config = {
    redis: redisTarget(env),
    redisWait: {
      replicas: int(env, 'REDIS_WAIT_REPLICAS', clusterDefaults.replicaWait.replicas, 0, 100),
      timeoutMs: int(env, 'REDIS_WAIT_TIMEOUT_MS', clusterDefaults.replicaWait.timeoutMs, 1, 600_000),
    },
    prefix,
    clusterId: clusterIdOf(env),
    ingressPartitions: int(env, 'INGRESS_PARTITIONS', clusterDefaults.ingressPartitions, 1, 256),
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    logPretty: bool(env, 'LOG_PRETTY', false),
    workerIndex:
      read(env, WORKER_INDEX_VAR) === undefined ? undefined : int(env, WORKER_INDEX_VAR, 0, 0, 255),
    ioNode: {
      nodeId: read(env, 'IO_NODE_ID') ?? `${hostname()}-${randomBytes(3).toString('hex')}`,
      host: read(env, 'IO_NODE_HOST') ?? ioNodeDefaults.host,
      port: int(env, 'IO_NODE_PORT', ioNodeDefaults.port, 0, 65535),
      publicUrl: url(env, 'IO_NODE_PUBLIC_URL', ['http:', 'https:'], PORT_PLACEHOLDER),
      workers: workers(env, 'IO_NODE_WORKERS'),
      parser: oneOf(env, 'SOCKETIO_PARSER', SOCKETIO_PARSERS, 'default'),
      corsOrigins: origins(env, 'IO_NODE_CORS_ORIGINS'),
      eventTimeoutMs: int(env, 'EVENT_TIMEOUT_MS', ioNodeDefaults.eventTimeoutMs, 100, 3_600_000),
      ordering: bool(env, 'ORDERING', ioNodeDefaults.ordering),
      batchMaxEvents: int(env, 'BATCH_MAX_EVENTS', ioNodeDefaults.batchMaxEvents, 1, 10_000),
      maxJobsInFlight: int(env, 'MAX_JOBS_IN_FLIGHT', ioNodeDefaults.maxJobsInFlight, 1, 100_000),
      maxPendingEvents: int(env, 'MAX_PENDING_EVENTS', ioNodeDefaults.maxPendingEvents, 1, 100_000_000),
      recoveryWindowMs,
      inboxRetentionMs,
      heartbeatIntervalMs,
      heartbeatTtlMs,
    },
    auth: jwtAuth(env),
    limits: limits(env),
    appNode: {
      nodeId: read(env, 'APP_NODE_ID') ?? `app-${hostname()}-${randomBytes(3).toString('hex')}`,
      workers: workers(env, 'APP_NODE_WORKERS'),
      concurrency: int(env, 'APP_NODE_CONCURRENCY', appNodeDefaults.concurrency, 1, 10_000),
      lockDurationMs,
      stalledIntervalMs: int(env, 'STALLED_INTERVAL_MS', appNodeDefaults.stalledIntervalMs, 500, 600_000),
      maxStalledCount: int(env, 'MAX_STALLED_COUNT', appNodeDefaults.maxStalledCount, 0, 100),
      commandAppendScript: bool(env, 'COMMAND_APPEND_SCRIPT', appNodeDefaults.commandAppendScript),
      inboxRetentionMs,
      recoveryWindowMs,
      historyRooms: list(env, 'HISTORY_ROOMS') ?? Object.freeze([]),
      historyMaxLength: int(env, 'HISTORY_MAX_LENGTH', 1_000, 1, 10_000_000),
      historyTtlMs: int(env, 'HISTORY_TTL_MS', 300_000, 1_000, 2_592_000_000),
      metricsPort:
        read(env, 'METRICS_PORT') === undefined ? undefined : int(env, 'METRICS_PORT', 0, 0, 65535),
      metricsHost: read(env, 'METRICS_HOST') ?? appNodeDefaults.metricsHost,
    },
    frontend: {
      host: read(env, 'FRONTEND_HOST') ?? frontendDefaults.host,
      port: int(env, 'FRONTEND_PORT', frontendDefaults.port, 0, 65535),
      strategy: oneOf(env, 'FRONTEND_STRATEGY', BALANCE_STRATEGIES, frontendDefaults.strategy),
      proxy: bool(env, 'FRONTEND_PROXY', frontendDefaults.proxy),
      proxyPath: urlPath(env, 'FRONTEND_PROXY_PATH', frontendDefaults.proxyPath),
      staticDir: directory(env, 'FRONTEND_STATIC_DIR'),
      registryRefreshMs: int(
        env,
        'FRONTEND_REGISTRY_REFRESH_MS',
        frontendDefaults.registryRefreshMs,
        50,
        60_000,
      ),
      adminToken: token(env, 'ADMIN_TOKEN'),
    },
  };
  const { port, workers: ioWorkers } = config.ioNode;
  if (port !== 0 && port + ioWorkers - 1 > 65535) {
    throw new ConfigError(
      `IO_NODE_PORT (${port}) + IO_NODE_WORKERS (${ioWorkers}) - 1 must be at most 65535: worker i listens on IO_NODE_PORT + i`,
    );
  }
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
