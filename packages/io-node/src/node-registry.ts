import { readFileSync } from 'node:fs';
import {
  type CloseStep,
  closeRedis,
  createListeners,
  createRedis,
  type IoNodeRecord,
  ioNodeLiveness,
  isTransientRedisError,
  type Keys,
  type Logger,
  openRedis,
  type RedisConnection,
  type RedisTarget,
  type RegistryEvents,
  readListed,
  runCloseSteps,
  settleWithin,
  watchRegistry,
  writeLiveness,
} from '@iocluster/shared';
import type { Server } from 'socket.io';

/** The peer events an io-node raises: every one comes from the one liveness watcher. */
export type PeerEvents = Pick<RegistryEvents, 'peer-joined' | 'peer-left' | 'peer-expired' | 'peer-purged'>;

export interface NodeRegistryOptions {
  redis: RedisTarget | string;
  keys: Keys;
  nodeId: string;
  version: string;
  heartbeatIntervalMs: number;
  heartbeatTtlMs: number;
  /** How long an expired peer is kept (a broadcast target, its inbox kept) before it is purged. */
  retentionMs: number;
  io: Server;
  /** Client events accepted per second lately. */
  eventsPerSecond(): number;
  /** Removes what an expired peer left (inbox, routing entries), once this node claimed it. */
  purge(nodeId: string): Promise<void>;
  /**
   * After each heartbeat: whether the node had been taken for dead meanwhile (its record was gone or
   * expired), so that what peers purged of it is written again.
   */
  afterBeat(takenForDead: boolean): Promise<void>;
  logger: Logger;
}

/**
 * An io-node's liveness record and its view of its peers' (see `LivenessKind` and `judgeLiveness` in
 * shared). Every `heartbeatIntervalMs` it writes the node's one record, which expires `heartbeatTtlMs`
 * later: from `start()` the node is live (a broadcast target, its presence entries safe); from `listen()`
 * its record carries its URL and connection count, and frontends hand it out; from `leave()` it is live
 * but no longer handed out (a drain). Its watcher raises the peer events.
 *
 * It uses two connections of its own (commands, and a subscriber for join/leave announcements) so that a
 * heartbeat never waits behind the node's ingress traffic; both connect in `start()`.
 */
export interface NodeRegistry {
  /** Listed io-nodes other than this one, as of the last read. */
  readonly peers: readonly IoNodeRecord[];
  /** Whether a node counts as live in this node's view (starting and draining nodes included). */
  isLive(nodeId: string): boolean;
  /** Reads the records now (sharing a read under way, see `RegistryWatcher.refresh`). */
  refresh(): Promise<void>;
  /** Listeners may be registered before `start()`; returns the unsubscribe function. */
  on<E extends keyof PeerEvents>(event: E, listener: PeerEvents[E]): () => void;
  /** Writes the first record (the node is live, not yet handed out), starts heartbeats and watches peers. */
  start(): Promise<void>;
  /**
   * The node listens at `url`: its record describes it from now on (replacing the records of other nodes
   * with that URL: a restarted node usually has a new id). Heartbeats are also sent early (within 250 ms)
   * when a client connects or disconnects, so the frontend's fewest-connections pick sees fresh counts.
   */
  listen(url: string): Promise<void>;
  /** Stops handing the node out at once and announces it; heartbeats go on until `close()`. */
  leave(): Promise<void>;
  /** Stops heartbeats and watching, closes its connections. The record goes with the inbox. Idempotent. */
  close(): Promise<void>;
}

/** Longest wait before a changed connection count reaches the registry. */
const EARLY_HEARTBEAT_MS = 250;

/** Longest a close step waits on Redis before giving up on it. */
const CLOSE_WAIT_MS = 1_000;

/** The version in the io-node's package.json (src/ and dist/ both sit one level below it). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

/** Creates the registry of one io-node, with its (lazy) connections; nothing is written until `start()`. */
export function createNodeRegistry(options: NodeRegistryOptions): NodeRegistry {
  const { keys, nodeId, heartbeatIntervalMs, heartbeatTtlMs, io } = options;
  const logger = options.logger.child({ component: 'io-node:registry' });
  const kind = ioNodeLiveness(keys);
  const listeners = createListeners<PeerEvents>(logger);
  const redis: RedisConnection = createRedis(options.redis, 'command', {
    logger,
    connectionName: `${nodeId}:registry`,
    lazy: true,
  });
  const sub: RedisConnection = createRedis(options.redis, 'subscriber', {
    logger,
    connectionName: `${nodeId}:registry-sub`,
    lazy: true,
  });
  const watcher = watchRegistry({
    redis,
    kind,
    subscriber: sub,
    exclude: nodeId,
    // Twice per heartbeat: a crashed peer then leaves within its TTL plus half an interval, inside the
    // TTL-plus-one-interval bound even with some event-loop delay.
    intervalMs: Math.max(50, Math.floor(heartbeatIntervalMs / 2)),
    heartbeatIntervalMs,
    retentionMs: options.retentionMs,
    purge: options.purge,
    logger,
  });
  for (const event of ['peer-joined', 'peer-left'] as const) {
    watcher.on(event, (node) => {
      logger.info({ peer: node.nodeId, url: node.url }, event);
      listeners.emit(event, node);
    });
  }
  for (const event of ['peer-expired', 'peer-purged'] as const) {
    watcher.on(event, (id) => listeners.emit(event, id));
  }
  const startedAt = Date.now();
  let url: string | undefined;
  let replaces: string[] = [];
  /** The record's fields were written since the node was last unlisted: peers and frontends know it. */
  let announced = false;
  let started = false;
  let timer: NodeJS.Timeout | undefined;
  let early: NodeJS.Timeout | undefined;
  let beating: Promise<void> | undefined;
  let lastFailure = '';
  let closing: Promise<void> | undefined;

  async function beat(): Promise<void> {
    const now = Date.now();
    const record: IoNodeRecord | undefined =
      url === undefined
        ? undefined
        : {
            nodeId,
            url,
            connections: io.of('/').sockets.size,
            startedAt,
            version: options.version,
            lastSeen: now,
            eventsPerSecond: options.eventsPerSecond(),
          };
    const previous = await writeLiveness(redis, kind, {
      nodeId,
      now,
      ttlMs: heartbeatTtlMs,
      record,
      replaces,
    });
    replaces = [];
    const takenForDead = started && (previous === null || previous <= now);
    if (takenForDead) {
      logger.warn(
        { expiredAt: previous },
        'this node had been taken for dead; writing its routing and presence again',
      );
    }
    if (record && (!announced || takenForDead)) {
      announced = true;
      await redis.publish(keys.registryChannel, nodeId);
    }
    started = true;
    await options.afterBeat(takenForDead);
  }

  /** One heartbeat at a time; failures are logged (once per distinct error) and the next one retries. */
  function heartbeat(): Promise<void> {
    beating ??= beat()
      .then(
        () => {
          if (lastFailure) logger.info('registry heartbeat written again');
          lastFailure = '';
        },
        (err: unknown) => {
          const message = err instanceof Error ? err.message : String(err);
          if (message !== lastFailure) {
            const level = isTransientRedisError(err) ? 'warn' : 'error';
            logger[level]({ err }, 'registry heartbeat failed; retrying');
          }
          lastFailure = message;
        },
      )
      .finally(() => {
        beating = undefined;
      });
    return beating;
  }

  function scheduleEarly(): void {
    if (early || closing || url === undefined) return;
    early = setTimeout(
      () => {
        early = undefined;
        void heartbeat();
      },
      Math.min(EARLY_HEARTBEAT_MS, heartbeatIntervalMs),
    );
  }

  const onConnection = (socket: { once(event: 'disconnect', fn: () => void): unknown }) => {
    scheduleEarly();
    socket.once('disconnect', scheduleEarly);
  };

  return {
    get peers() {
      return watcher.nodes;
    },
    isLive: (id) => watcher.isLive(id),
    async refresh() {
      await watcher.refresh();
    },
    on: listeners.on,
    async start() {
      openRedis(redis);
      openRedis(sub);
      // The first heartbeat must land: a node that cannot be live does not start.
      await beat();
      timer = setInterval(() => void heartbeat(), heartbeatIntervalMs);
      await watcher.start();
    },
    async listen(at) {
      url = at;
      replaces = (await readListed(redis, kind, Date.now(), logger))
        .filter((node) => node.url === at && node.nodeId !== nodeId)
        .map((node) => node.nodeId);
      if (replaces.length > 0) logger.info({ replaced: replaces, url: at }, 'replacing records of this URL');
      await beating;
      await beat();
      io.on('connection', onConnection);
      logger.info({ url: at, heartbeatIntervalMs, heartbeatTtlMs }, 'registered');
    },
    async leave() {
      if (url === undefined) return;
      url = undefined;
      announced = false;
      io.off('connection', onConnection);
      clearTimeout(early);
      await settleWithin(beating, CLOSE_WAIT_MS);
      if (redis.status !== 'ready') return;
      await redis.del(kind.record(nodeId));
      await redis.publish(keys.registryChannel, nodeId);
      logger.info('left the registry');
    },
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        clearTimeout(early);
        io.off('connection', onConnection);
        const steps: CloseStep[] = [
          // Bounded: with Redis down a heartbeat retries for many seconds, and shutdown must not wait on it.
          ['wait for heartbeat', () => beating && settleWithin(beating, CLOSE_WAIT_MS)],
          ['stop watching', () => settleWithin(watcher.close(), CLOSE_WAIT_MS)],
          [
            'close redis',
            () => Promise.all([closeRedis(redis, CLOSE_WAIT_MS), closeRedis(sub, CLOSE_WAIT_MS)]),
          ],
        ];
        await runCloseSteps(steps, logger, 'registry');
      })();
      return closing;
    },
  };
}
