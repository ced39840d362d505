import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  directory,
  fileContents,
  flag,
  hostPorts,
  integer,
  type Kind,
  list,
  oneOf,
  origins,
  port,
  secret,
  text,
  url,
  urlPath,
  workers,
} from './config-env.js';
import { LOG_LEVELS, type LogLevel } from './logger.js';

/**
 * Who reads a setting: `cluster` every process (and every process of a deployment must agree on it),
 * the others only that tier's processes; `example` only the chat example's launcher.
 */
export type Tier = 'cluster' | 'io-node' | 'app-node' | 'frontend' | 'example';
export const TIERS: readonly Tier[] = ['cluster', 'io-node', 'app-node', 'frontend', 'example'];

/**
 * What a row feeds: an option of the tier's `create*` (same name), a process setting main.ts reads
 * itself, or one field of a composite option (`redis`, `replicaWait`, `jwt`, `history`).
 */
export type Scope = 'option' | 'process' | 'part';

/** One setting: the single place its variable, option, type, default, bounds, tier and doc are written. */
export interface Setting<V = unknown> {
  readonly env: string;
  readonly option: string;
  readonly tier: Tier;
  readonly scope: Scope;
  readonly kind: Kind<V>;
  /** The value when unset: a value, one made per process, or undefined (unset stays unset). */
  readonly default: V | (() => V) | undefined;
  /** How the docs show a default made per process. */
  readonly shownDefault?: string;
  /** Never echoed in an error message. */
  readonly secret?: boolean;
  readonly doc: string;
}

type Row<
  E extends string,
  O extends string,
  T extends Tier,
  S extends Scope,
  V,
  R extends boolean,
> = Setting<V> & {
  readonly env: E;
  readonly option: O;
  readonly tier: T;
  readonly scope: S;
  /** Whether the value is always there (it has a default). */
  readonly required: R;
};

/** A setting with a default: always has a value. */
function setting<
  const E extends string,
  const O extends string,
  const T extends Tier,
  const S extends Scope,
  V,
>(
  row: Omit<Setting<V>, 'default'> & {
    env: E;
    option: O;
    tier: T;
    scope: S;
    default: NoInfer<V> | (() => NoInfer<V>);
  },
): Row<E, O, T, S, V, true> {
  return { ...row, required: true };
}

/** A setting that stays undefined when unset. */
function optional<
  const E extends string,
  const O extends string,
  const T extends Tier,
  const S extends Scope,
  V,
>(row: Omit<Setting<V>, 'default'> & { env: E; option: O; tier: T; scope: S }): Row<E, O, T, S, V, false> {
  return { ...row, default: undefined, required: false };
}

/** JWS algorithms io-nodes accept for client tokens. */
export const JWT_ALGORITHMS = [
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
] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];
export const BALANCE_STRATEGIES = ['fewest-connections', 'random', 'round-robin'] as const;
export type BalanceStrategy = (typeof BALANCE_STRATEGIES)[number];
/** Socket.IO packet encoding between clients and io-nodes; both sides must use the same one. */
export const SOCKETIO_PARSERS = ['default', 'msgpack'] as const;
export type SocketIoParser = (typeof SOCKETIO_PARSERS)[number];
/** What `{port}` in `IO_NODE_PUBLIC_URL` stands for: the port the io-node listens on. */
export const PORT_PLACEHOLDER = '{port}';

const ms = (min: number, max: number) => integer(min, max);
const randomSuffix = () => randomBytes(3).toString('hex');

/** Every setting of every tier. `docs/configuration.md` is made from it (`npm run docs:config`). */
export const SETTINGS = [
  // cluster: every process
  setting({
    env: 'REDIS_URL',
    option: 'redis',
    tier: 'cluster',
    scope: 'part',
    kind: url(['redis:', 'rediss:']),
    default: 'redis://127.0.0.1:6379',
    doc: 'A single Redis (or a managed one with a single endpoint).',
  }),
  optional({
    env: 'REDIS_SENTINELS',
    option: 'redis',
    tier: 'cluster',
    scope: 'part',
    kind: hostPorts(),
    doc: 'Sentinels to ask for the primary; needs `REDIS_SENTINEL_NAME`. Not with `REDIS_CLUSTER_NODES`.',
  }),
  optional({
    env: 'REDIS_SENTINEL_NAME',
    option: 'redis',
    tier: 'cluster',
    scope: 'part',
    kind: text(),
    doc: 'Name of the primary the Sentinels watch.',
  }),
  optional({
    env: 'REDIS_CLUSTER_NODES',
    option: 'redis',
    tier: 'cluster',
    scope: 'part',
    kind: hostPorts(),
    doc: 'Seed nodes of a Redis Cluster.',
  }),
  optional({
    env: 'REDIS_PASSWORD',
    option: 'redis',
    tier: 'cluster',
    scope: 'part',
    kind: text(),
    secret: true,
    doc: 'Password for Sentinel or Cluster nodes (a standalone Redis takes it in `REDIS_URL`).',
  }),
  setting({
    env: 'REDIS_WAIT_REPLICAS',
    option: 'replicaWait.replicas',
    tier: 'cluster',
    scope: 'part',
    kind: integer(0, 100),
    default: 0,
    doc: 'Replicas that must have an accepted event or a command before it counts as written (`WAIT`); 0 waits for none.',
  }),
  setting({
    env: 'REDIS_WAIT_TIMEOUT_MS',
    option: 'replicaWait.timeoutMs',
    tier: 'cluster',
    scope: 'part',
    kind: ms(1, 600_000),
    default: 1_000,
    doc: 'Longest such a `WAIT` blocks.',
  }),
  setting({
    env: 'IOCLUSTER_PREFIX',
    option: 'prefix',
    tier: 'cluster',
    scope: 'option',
    kind: text(/^[A-Za-z0-9_.-]{1,64}$/, "be 1-64 letters, digits, '_', '.' or '-'"),
    default: 'iocluster',
    doc: 'Prefix of every Redis key and channel.',
  }),
  setting({
    env: 'INGRESS_PARTITIONS',
    option: 'ingressPartitions',
    tier: 'cluster',
    scope: 'option',
    kind: integer(1, 256),
    default: 1,
    doc: 'Queues the ingress is split into, each in its own Cluster slot; a client always uses the same one.',
  }),
  setting({
    env: 'HEARTBEAT_INTERVAL_MS',
    option: 'heartbeatIntervalMs',
    tier: 'cluster',
    scope: 'option',
    kind: ms(100, 60_000),
    default: 2_000,
    doc: 'How often a node refreshes its liveness record.',
  }),
  setting({
    env: 'HEARTBEAT_TTL_MS',
    option: 'heartbeatTtlMs',
    tier: 'cluster',
    scope: 'option',
    kind: ms(200, 600_000),
    default: 6_000,
    doc: 'A node missing heartbeats this long counts as gone; must exceed `HEARTBEAT_INTERVAL_MS`.',
  }),
  setting({
    env: 'RECOVERY_WINDOW_MS',
    option: 'recoveryWindowMs',
    tier: 'cluster',
    scope: 'option',
    kind: ms(1_000, 86_400_000),
    default: 120_000,
    doc: "How long a disconnected client's session waits for it, and answers to its events are kept for its resends.",
  }),
  setting({
    env: 'INBOX_RETENTION_MS',
    option: 'inboxRetentionMs',
    tier: 'cluster',
    scope: 'option',
    kind: ms(1_000, 86_400_000),
    default: 120_000,
    doc: "How long commands wait in an io-node's inbox for it to come back; a gone io-node is purged this long after.",
  }),
  setting({
    env: 'LOG_LEVEL',
    option: 'logLevel',
    tier: 'cluster',
    scope: 'process',
    kind: oneOf(LOG_LEVELS as readonly [LogLevel, ...LogLevel[]]),
    default: 'info',
    doc: 'Least severe level logged.',
  }),
  setting({
    env: 'LOG_PRETTY',
    option: 'logPretty',
    tier: 'cluster',
    scope: 'process',
    kind: flag(),
    default: false,
    doc: 'Human-readable logs (needs pino-pretty); JSON lines otherwise.',
  }),
  optional({
    env: 'IOCLUSTER_WORKER_INDEX',
    option: 'workerIndex',
    tier: 'cluster',
    scope: 'process',
    kind: integer(0, 255),
    doc: 'Set by a worker supervisor on the processes it forks (never by hand): the worker runs one node.',
  }),

  // io-node
  setting({
    env: 'IO_NODE_ID',
    option: 'nodeId',
    tier: 'io-node',
    scope: 'option',
    kind: text(),
    default: () => `${hostname()}-${randomSuffix()}`,
    shownDefault: '`<hostname>-<random>`',
    doc: 'Unique id of the node; a restart is a new node.',
  }),
  setting({
    env: 'IO_NODE_HOST',
    option: 'host',
    tier: 'io-node',
    scope: 'option',
    kind: text(),
    default: '0.0.0.0',
    doc: 'Interface to listen on.',
  }),
  setting({
    env: 'IO_NODE_PORT',
    option: 'port',
    tier: 'io-node',
    scope: 'option',
    kind: port(),
    default: 3001,
    doc: 'Port to listen on; worker i of `IO_NODE_WORKERS` listens on this plus i.',
  }),
  optional({
    env: 'IO_NODE_PUBLIC_URL',
    option: 'publicUrl',
    tier: 'io-node',
    scope: 'option',
    kind: url(['http:', 'https:'], PORT_PLACEHOLDER),
    shownDefault: '`http://127.0.0.1:<port>`',
    doc: 'URL clients reach the node at (registry); `{port}` in it stands for the port listened on.',
  }),
  setting({
    env: 'IO_NODE_WORKERS',
    option: 'workers',
    tier: 'io-node',
    scope: 'process',
    kind: workers(),
    default: 1,
    doc: 'io-node processes one command runs, each a node of its own.',
  }),
  setting({
    env: 'SOCKETIO_PARSER',
    option: 'parser',
    tier: 'io-node',
    scope: 'option',
    kind: oneOf(SOCKETIO_PARSERS),
    default: 'default',
    doc: "Socket.IO packet encoding (Socket.IO's own, or msgpack); clients must use the same.",
  }),
  setting({
    env: 'IO_NODE_CORS_ORIGINS',
    option: 'corsOrigins',
    tier: 'io-node',
    scope: 'option',
    kind: origins(),
    default: '*',
    doc: 'Origins allowed by CORS.',
  }),
  setting({
    env: 'EVENT_TIMEOUT_MS',
    option: 'eventTimeoutMs',
    tier: 'io-node',
    scope: 'option',
    kind: ms(100, 3_600_000),
    default: 30_000,
    doc: "An event not answered by then gets TIMEOUT and the client's next events go; app-nodes stop its handler before.",
  }),
  setting({
    env: 'ORDERING',
    option: 'ordering',
    tier: 'io-node',
    scope: 'option',
    kind: flag(),
    default: true,
    doc: 'Per-client order of handlers and of what they emit; off sends events without waiting.',
  }),
  setting({
    env: 'BATCH_MAX_EVENTS',
    option: 'batchMaxEvents',
    tier: 'io-node',
    scope: 'option',
    kind: integer(1, 10_000),
    default: 256,
    doc: 'Most client events carried by one queue job.',
  }),
  setting({
    env: 'MAX_JOBS_IN_FLIGHT',
    option: 'maxJobsInFlight',
    tier: 'io-node',
    scope: 'option',
    kind: integer(1, 100_000),
    default: 32,
    doc: "The node's unanswered jobs before new events gather for the next one.",
  }),
  setting({
    env: 'MAX_PENDING_EVENTS',
    option: 'maxPendingEvents',
    tier: 'io-node',
    scope: 'option',
    kind: integer(1, 100_000_000),
    default: 100_000,
    doc: 'Events waiting on the node (e.g. while Redis is down) before new ones get OVERLOADED.',
  }),
  optional({
    env: 'AUTH_JWT_SECRET',
    option: 'jwt.secret',
    tier: 'io-node',
    scope: 'part',
    kind: secret(32, 'bytes', ' (256 bits)'),
    secret: true,
    doc: 'Shared secret for HS256/384/512 client tokens. One of the three `AUTH_JWT_*` keys turns JWT on.',
  }),
  optional({
    env: 'AUTH_JWT_PUBLIC_KEY_FILE',
    option: 'jwt.publicKeyPem',
    tier: 'io-node',
    scope: 'part',
    kind: fileContents({ test: (s) => s.includes('-----BEGIN PUBLIC KEY-----'), what: 'a PEM public key' }),
    doc: 'File of the SPKI PEM public key for RS*, PS*, ES* and EdDSA tokens.',
  }),
  optional({
    env: 'AUTH_JWT_JWKS_URL',
    option: 'jwt.jwksUrl',
    tier: 'io-node',
    scope: 'part',
    kind: url(['http:', 'https:']),
    doc: 'A JSON Web Key Set, fetched and cached (keys chosen by `kid`).',
  }),
  optional({
    env: 'AUTH_JWT_ISSUER',
    option: 'jwt.issuer',
    tier: 'io-node',
    scope: 'part',
    kind: text(),
    doc: 'Required `iss` claim.',
  }),
  optional({
    env: 'AUTH_JWT_AUDIENCE',
    option: 'jwt.audience',
    tier: 'io-node',
    scope: 'part',
    kind: list(),
    doc: 'Required `aud` claim: any of these.',
  }),
  optional({
    env: 'AUTH_JWT_ALGORITHMS',
    option: 'jwt.algorithms',
    tier: 'io-node',
    scope: 'part',
    kind: list(JWT_ALGORITHMS),
    shownDefault: 'those the key can verify',
    doc: 'Accepted algorithms.',
  }),
  setting({
    env: 'AUTH_EXPIRY_NOTICE_MS',
    option: 'jwt.expiryNoticeMs',
    tier: 'io-node',
    scope: 'part',
    kind: ms(100, 86_400_000),
    default: 30_000,
    doc: 'How long before `exp` the client is asked for a fresh token.',
  }),
  setting({
    env: 'CLIENT_EVENT_RATE',
    option: 'clientEventRate',
    tier: 'io-node',
    scope: 'option',
    kind: integer(0, 1_000_000),
    default: 200,
    doc: 'Events per second one client may send, sustained; 0: no limit.',
  }),
  setting({
    env: 'CLIENT_EVENT_BURST',
    option: 'clientEventBurst',
    tier: 'io-node',
    scope: 'option',
    kind: integer(1, 1_000_000),
    default: 100,
    doc: 'Events a client may send at once above the rate.',
  }),
  setting({
    env: 'CLIENT_RATE_DISCONNECT_AFTER',
    option: 'clientRateDisconnectAfter',
    tier: 'io-node',
    scope: 'option',
    kind: integer(0, 100_000_000),
    default: 1_000,
    doc: 'Refused events within 10 s after which the client is disconnected; 0: never.',
  }),
  setting({
    env: 'CLIENT_ABUSE_BAN_MS',
    option: 'abuseBanMs',
    tier: 'io-node',
    scope: 'option',
    kind: ms(0, 86_400_000),
    default: 10_000,
    doc: 'How long a client disconnected for flooding is refused when it reconnects; 0: not.',
  }),
  setting({
    env: 'MAX_PAYLOAD_BYTES',
    option: 'maxPayloadBytes',
    tier: 'io-node',
    scope: 'option',
    kind: integer(256, 100_000_000),
    default: 65_536,
    doc: 'Largest client event on the wire, binary attachments included.',
  }),
  setting({
    env: 'MAX_CONNECTIONS',
    option: 'maxConnections',
    tier: 'io-node',
    scope: 'option',
    kind: integer(0, 10_000_000),
    default: 50_000,
    doc: 'Clients one io-node holds; the next gets SERVER_FULL; 0: no limit.',
  }),
  setting({
    env: 'CONNECTIONS_PER_SECOND_PER_IP',
    option: 'connectionsPerSecondPerIp',
    tier: 'io-node',
    scope: 'option',
    kind: integer(0, 1_000_000),
    default: 0,
    doc: 'New connections per second from one address; 0: no limit.',
  }),
  setting({
    env: 'QUEUE_MAX_WAITING',
    option: 'queueMaxWaiting',
    tier: 'io-node',
    scope: 'option',
    kind: integer(0, 100_000_000),
    default: 10_000,
    doc: 'Ingress jobs waiting past which io-nodes answer OVERLOADED; 0: no limit.',
  }),
  setting({
    env: 'QUEUE_CHECK_INTERVAL_MS',
    option: 'queueCheckIntervalMs',
    tier: 'io-node',
    scope: 'option',
    kind: ms(10, 60_000),
    default: 500,
    doc: "How often an io-node reads the queue's waiting count.",
  }),

  // app-node
  optional({
    env: 'APP_MODULE',
    option: 'appModule',
    tier: 'app-node',
    scope: 'process',
    kind: text(),
    shownDefault: 'the first argument',
    doc: 'Module whose default (or `register`) export registers the handlers.',
  }),
  setting({
    env: 'APP_NODE_ID',
    option: 'nodeId',
    tier: 'app-node',
    scope: 'option',
    kind: text(),
    default: () => `app-${hostname()}-${randomSuffix()}`,
    shownDefault: '`app-<hostname>-<random>`',
    doc: 'Id of the node in logs and the admin view.',
  }),
  setting({
    env: 'APP_NODE_WORKERS',
    option: 'workers',
    tier: 'app-node',
    scope: 'process',
    kind: workers(),
    default: 1,
    doc: 'app-node processes one command runs.',
  }),
  setting({
    env: 'APP_NODE_CONCURRENCY',
    option: 'concurrency',
    tier: 'app-node',
    scope: 'option',
    kind: integer(1, 10_000),
    default: 16,
    doc: 'Jobs one app-node runs at once.',
  }),
  setting({
    env: 'HANDLER_TIMEOUT_MS',
    option: 'handlerTimeoutMs',
    tier: 'app-node',
    scope: 'option',
    kind: ms(100, 3_600_000),
    default: 25_000,
    doc: "A handler still running after this is answered TIMEOUT and cut off: what it emits or joins later is dropped. An event's io-node deadline (`EVENT_TIMEOUT_MS`) cuts it earlier when that comes first.",
  }),
  setting({
    env: 'LOCK_DURATION_MS',
    option: 'lockDurationMs',
    tier: 'app-node',
    scope: 'option',
    kind: ms(1_000, 600_000),
    default: 5_000,
    doc: "Lock on a running job; a dead app-node's jobs run again after about this long.",
  }),
  setting({
    env: 'STALLED_INTERVAL_MS',
    option: 'stalledIntervalMs',
    tier: 'app-node',
    scope: 'option',
    kind: ms(500, 600_000),
    default: 2_500,
    doc: 'How often workers look for jobs whose lock expired.',
  }),
  setting({
    env: 'MAX_STALLED_COUNT',
    option: 'maxStalledCount',
    tier: 'app-node',
    scope: 'option',
    kind: integer(0, 100),
    default: 3,
    doc: 'Times a job may lose its worker before it is failed.',
  }),
  setting({
    env: 'COMMAND_APPEND_SCRIPT',
    option: 'commandAppendScript',
    tier: 'app-node',
    scope: 'option',
    kind: flag(),
    default: true,
    doc: 'Off a Redis Cluster, deliver simple commands with one Lua script (one round trip instead of two).',
  }),
  optional({
    env: 'HISTORY_ROOMS',
    option: 'history.rooms',
    tier: 'app-node',
    scope: 'part',
    kind: list(),
    shownDefault: 'none',
    doc: 'Globs of rooms that keep history (`chat:*,lobby`).',
  }),
  setting({
    env: 'HISTORY_MAX_LENGTH',
    option: 'history.maxLength',
    tier: 'app-node',
    scope: 'part',
    kind: integer(1, 10_000_000),
    default: 1_000,
    doc: 'Messages kept per room.',
  }),
  setting({
    env: 'HISTORY_TTL_MS',
    option: 'history.ttlMs',
    tier: 'app-node',
    scope: 'part',
    kind: ms(1_000, 2_592_000_000),
    default: 300_000,
    doc: "Age past which messages are dropped, and a quiet room's history expires.",
  }),
  optional({
    env: 'METRICS_PORT',
    option: 'metricsPort',
    tier: 'app-node',
    scope: 'option',
    kind: port(),
    shownDefault: 'none: no server',
    doc: "Port of the app-node's HTTP server (`/healthz`, `/readyz`, `/metrics`).",
  }),
  setting({
    env: 'METRICS_HOST',
    option: 'metricsHost',
    tier: 'app-node',
    scope: 'option',
    kind: text(),
    default: '0.0.0.0',
    doc: 'Interface of that server.',
  }),

  // frontend
  setting({
    env: 'FRONTEND_HOST',
    option: 'host',
    tier: 'frontend',
    scope: 'option',
    kind: text(),
    default: '0.0.0.0',
    doc: 'Interface to listen on.',
  }),
  setting({
    env: 'FRONTEND_PORT',
    option: 'port',
    tier: 'frontend',
    scope: 'option',
    kind: port(),
    default: 3000,
    doc: 'Port to listen on.',
  }),
  setting({
    env: 'FRONTEND_STRATEGY',
    option: 'strategy',
    tier: 'frontend',
    scope: 'option',
    kind: oneOf(BALANCE_STRATEGIES),
    default: 'fewest-connections',
    doc: 'Pick of `/api/connect` (and of the proxy) when the request names none.',
  }),
  setting({
    env: 'FRONTEND_PROXY',
    option: 'proxy',
    tier: 'frontend',
    scope: 'option',
    kind: flag(),
    default: false,
    doc: 'Forward Socket.IO traffic to io-nodes through the frontend.',
  }),
  setting({
    env: 'FRONTEND_PROXY_PATH',
    option: 'proxyPath',
    tier: 'frontend',
    scope: 'option',
    kind: urlPath(),
    default: '/socket.io/',
    doc: 'Socket.IO path forwarded in proxy mode.',
  }),
  optional({
    env: 'FRONTEND_STATIC_DIR',
    option: 'staticDir',
    tier: 'frontend',
    scope: 'option',
    kind: directory(),
    shownDefault: 'none',
    doc: 'Directory of static pages served at `/`.',
  }),
  setting({
    env: 'FRONTEND_REGISTRY_REFRESH_MS',
    option: 'registryRefreshMs',
    tier: 'frontend',
    scope: 'option',
    kind: ms(50, 60_000),
    default: 500,
    doc: 'How often the frontend re-reads the node registry.',
  }),
  optional({
    env: 'ADMIN_TOKEN',
    option: 'adminToken',
    tier: 'frontend',
    scope: 'option',
    kind: secret(8, 'characters'),
    secret: true,
    shownDefault: 'none: no admin view',
    doc: 'Turns on `/admin`, which asks for this token.',
  }),

  // the chat example's launcher (`npm run example`)
  setting({
    env: 'EXAMPLE_IO_NODES',
    option: 'ioNodes',
    tier: 'example',
    scope: 'process',
    kind: integer(1, 16),
    default: 2,
    doc: 'io-node processes the example starts.',
  }),
  setting({
    env: 'EXAMPLE_APP_NODES',
    option: 'appNodes',
    tier: 'example',
    scope: 'process',
    kind: integer(1, 16),
    default: 2,
    doc: 'app-node processes the example starts.',
  }),
  setting({
    env: 'EXAMPLE_IO_WORKERS',
    option: 'ioWorkers',
    tier: 'example',
    scope: 'process',
    kind: integer(1, 16),
    default: 1,
    doc: 'Nodes each io-node process runs (its `IO_NODE_WORKERS`).',
  }),
  setting({
    env: 'EXAMPLE_APP_WORKERS',
    option: 'appWorkers',
    tier: 'example',
    scope: 'process',
    kind: integer(1, 16),
    default: 1,
    doc: 'Nodes each app-node process runs (its `APP_NODE_WORKERS`).',
  }),
] as const;

export type SettingRow = (typeof SETTINGS)[number];
