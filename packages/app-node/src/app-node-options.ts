import {
  assertHeartbeat,
  assertInteger,
  type ClientStateStore,
  type CommandTransport,
  checkOptions,
  type HistoryOptions,
  type IngressConsumer,
  type Logger,
  type RedisTarget,
  type ReplicaWait,
  type ReplyInbox,
  settingDefaults,
  silentLogger,
  withDefaults,
} from '@iocluster/shared';
import type { ChannelDefaults } from './channels.js';

export interface AppNodeOptions {
  /** Redis URL or target (Sentinel, Cluster). */
  redis: RedisTarget | string;
  /** Prefix of every Redis key and channel; must match the io-nodes'. @defaultValue 'iocluster' */
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
  /** Id in logs. @defaultValue `app-<hostname>-<random>` */
  nodeId?: string;
  /** Ingress jobs run at once by this app-node. @defaultValue 16 */
  concurrency?: number;
  /**
   * BullMQ lock on a running job, renewed every half of it. When an app-node dies, its jobs go back to
   * the queue once the lock expires and a worker's stalled check sees it: within
   * `lockDurationMs + stalledIntervalMs`. @defaultValue 5000
   */
  lockDurationMs?: number;
  /** How often workers look for jobs whose lock expired. @defaultValue 2500 */
  stalledIntervalMs?: number;
  /** Times a job may lose its worker before it is failed (and kept). @defaultValue 3 */
  maxStalledCount?: number;
  /**
   * Off a Redis Cluster, deliver commands that need no join, history or answer step with one Lua script
   * (routing look-up and inbox appends in one round trip instead of two). @defaultValue true
   */
  commandAppendScript?: boolean;
  /**
   * A handler whose promise is still pending after this is answered with a TIMEOUT error and cut off (what
   * it emits or joins later is dropped), and its client's next event runs. The io-node's deadline carried
   * by each event (its `eventTimeoutMs`) cuts it earlier when that comes first. @defaultValue 25000
   */
  handlerTimeoutMs?: number;
  /**
   * Commands wait in an io-node's inbox at least this long for it to read them: the longest an io-node
   * may be cut off from Redis without losing a command. Must match across app-nodes. @defaultValue 120000
   */
  inboxRetentionMs?: number;
  /** Rooms that keep history (messages clients recover after a reconnect). @defaultValue none */
  history?: HistoryOptions;
  /**
   * How long answers to a client's events are kept, so an event it sends again after reconnecting gets
   * the first run's answer instead of running twice. Match the io-nodes' `recoveryWindowMs`.
   * @defaultValue 120000
   */
  recoveryWindowMs?: number;
  /**
   * Replicas that must have a write before it counts as done (`WAIT` after it; see {@link ReplicaWait}):
   * with `{ replicas: 1 }` a failover to a replica cannot lose a command or reply it published.
   * @defaultValue `{ replicas: 0, timeoutMs: 1000 }`: no wait
   */
  replicaWait?: ReplicaWait;
  /**
   * Client channels with no authorizer registered: subscribing allowed, publishing refused (FORBIDDEN).
   * @defaultValue { subscribe: 'allow', publish: 'deny' }
   */
  channels?: ChannelDefaults;
  /**
   * Where batches of room events are POSTed (`WEBHOOK_URL`, docs/webhooks.md); needs `webhookSecret`.
   * @defaultValue none: no webhooks
   */
  webhookUrl?: string;
  /** Key of each webhook body's HMAC-SHA256 signature (`WEBHOOK_SECRET`). @defaultValue none */
  webhookSecret?: string;
  /**
   * Events sent (`WEBHOOK_EVENTS`): `occupied`/`vacated` (rooms counted by the io-nodes' `OCCUPANCY_ROOMS`)
   * and `joined`/`left` (presence members). @defaultValue occupied,vacated
   */
  webhookEvents?: readonly ('occupied' | 'vacated' | 'joined' | 'left')[];
  /** How long events wait to be batched into one POST (`WEBHOOK_LINGER_MS`). @defaultValue 100 */
  webhookLingerMs?: number;
  /** Attempts per batch, the delay doubling from 1 s, before it stays a failed job. @defaultValue 10 */
  webhookAttempts?: number;
  /** Delay before a failed webhook batch's first retry; each next one doubles. @defaultValue 1000 */
  webhookBackoffMs?: number;
  /** Clients remembered for `no-client` detection. @defaultValue 100000 */
  seenClientsCapacity?: number;
  /**
   * Client states held in memory, so events that name their client's state by version run without
   * reading it from Redis; the least recently used go first. @defaultValue 10000
   */
  clientCacheCapacity?: number;
  /**
   * Port of the node's HTTP server (`/healthz`, `/readyz`, `/metrics`); 0 picks a free one.
   * @defaultValue none: no server
   */
  metricsPort?: number;
  /** Interface of that server. @defaultValue '0.0.0.0' */
  metricsHost?: string;
  /** How often the node refreshes its registry record (shown in the admin view). @defaultValue 2000 */
  heartbeatIntervalMs?: number;
  /** How long the record outlives the last heartbeat; must exceed `heartbeatIntervalMs`. @defaultValue 6000 */
  heartbeatTtlMs?: number;
  /** Version shown in the registry. @defaultValue the app-node package version */
  version?: string;
  /** @defaultValue a silent logger */
  logger?: Logger;
  /**
   * Where client events come from (the consumer side of the ingress); the app-node starts and closes it.
   * @defaultValue the BullMQ queues in `redis`, one worker per partition
   */
  ingress?: IngressConsumer;
  /**
   * The command path to io-nodes (routing table, inboxes, room history, kept answers).
   * @defaultValue the one in `redis`
   */
  commands?: CommandTransport;
  /**
   * Where io-nodes keep the client states that events name by version.
   * @defaultValue one key per client in `redis`
   */
  clientStates?: ClientStateStore;
  /**
   * Where io-nodes' answers to this node's requests come (`fetchSockets`, `emitWithAck`...); the
   * app-node starts and closes it.
   * @defaultValue a pub/sub channel of its own in `redis`
   */
  replies?: ReplyInbox;
}

/** The options with every default applied, validated. */
export type ResolvedAppNodeOptions = ReturnType<typeof resolveAppNodeOptions>;

/**
 * Applies the defaults, then validates; throws a TypeError naming the option that is wrong. Options with a
 * variable take their defaults and bounds from the settings table (`docs/configuration.md`).
 */
export function resolveAppNodeOptions(options: AppNodeOptions) {
  const opts = withDefaults(
    {
      ...settingDefaults('app-node'),
      seenClientsCapacity: 100_000,
      clientCacheCapacity: 10_000,
      webhookBackoffMs: 1_000,
      history: {},
      logger: silentLogger(),
    },
    options,
  );
  checkOptions('AppNodeOptions', 'app-node', opts);
  assertHeartbeat('AppNodeOptions', opts.heartbeatIntervalMs, opts.heartbeatTtlMs);
  assertInteger('AppNodeOptions', 'seenClientsCapacity', opts.seenClientsCapacity, 1);
  assertInteger('AppNodeOptions', 'clientCacheCapacity', opts.clientCacheCapacity, 1);
  assertInteger('AppNodeOptions', 'webhookBackoffMs', opts.webhookBackoffMs, 1);
  if (opts.webhookUrl !== undefined && !opts.webhookSecret) {
    throw new TypeError('AppNodeOptions.webhookSecret is required with webhookUrl: every webhook is signed');
  }
  return opts;
}
