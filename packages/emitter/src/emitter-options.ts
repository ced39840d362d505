import {
  assertInteger,
  type CommandTransport,
  checkOptions,
  type HistoryOptions,
  type Logger,
  type RedisTarget,
  type ReplicaWait,
  type ReplyInbox,
  settingDefaults,
  silentLogger,
  withDefaults,
} from '@iocluster/shared';

/** Options of {@link createEmitter}. */
export interface EmitterOptions {
  /** Redis URL or target (Sentinel, Cluster) of the stack to emit into. */
  redis: RedisTarget | string;
  /** Prefix of every Redis key; must match the stack's (`IOCLUSTER_PREFIX`). @defaultValue 'iocluster' */
  prefix?: string;
  /**
   * Rooms that keep history, as the stack's app-nodes keep them (`HISTORY_ROOMS`, `HISTORY_MAX_LENGTH`,
   * `HISTORY_TTL_MS`): an emit to such a room is recorded in its history and carries its position, so
   * clients that reconnect recover it. An emitter that does not know a room keeps history emits to it
   * like to any other room: its members get the message, a recovering client does not.
   * @defaultValue none
   */
  history?: HistoryOptions;
  /**
   * How long a publish's idempotency key is remembered: a second publish with the same key within it
   * delivers nothing and resolves with the first one's answer. @defaultValue 300000
   */
  idempotencyWindowMs?: number;
  /**
   * Commands wait in an io-node's inbox at least this long (`INBOX_RETENTION_MS`); match the stack's.
   * @defaultValue 120000
   */
  inboxRetentionMs?: number;
  /**
   * Replicas that must have a write before an emit resolves (`REDIS_WAIT_REPLICAS`).
   * @defaultValue `{ replicas: 0, timeoutMs: 1000 }`: no wait
   */
  replicaWait?: ReplicaWait;
  /**
   * Off a Redis Cluster, deliver emits that need no history step with one Lua script (one round trip).
   * @defaultValue true
   */
  commandAppendScript?: boolean;
  /** @defaultValue a silent logger */
  logger?: Logger;
  /**
   * The command path to io-nodes (routing table, inboxes, room history). @defaultValue the one in `redis`
   */
  commands?: CommandTransport;
  /**
   * Where io-nodes' answers to its requests (`fetchSockets`, `socketsJoin`...) come in.
   * @defaultValue a pub/sub channel of its own in `redis`
   */
  replies?: ReplyInbox;
}

/** Most an idempotency window may be: a day. */
const MAX_IDEMPOTENCY_WINDOW_MS = 86_400_000;

/** Applies the defaults, then validates; throws a TypeError naming the option that is wrong. */
export function resolveEmitterOptions(options: EmitterOptions) {
  const cluster = settingDefaults('cluster');
  const opts = withDefaults(
    {
      prefix: cluster.prefix,
      inboxRetentionMs: cluster.inboxRetentionMs,
      recoveryWindowMs: cluster.recoveryWindowMs,
      replicaWait: cluster.replicaWait,
      commandAppendScript: true,
      history: {} as HistoryOptions,
      idempotencyWindowMs: 300_000,
      logger: silentLogger(),
    },
    options,
  );
  checkOptions('EmitterOptions', 'cluster', opts);
  assertInteger('EmitterOptions', 'idempotencyWindowMs', opts.idempotencyWindowMs, 1);
  if (opts.idempotencyWindowMs > MAX_IDEMPOTENCY_WINDOW_MS) {
    throw new TypeError(
      `EmitterOptions.idempotencyWindowMs must be at most ${MAX_IDEMPOTENCY_WINDOW_MS}, got ${opts.idempotencyWindowMs}`,
    );
  }
  return opts;
}
