import { readFileSync } from 'node:fs';
import {
  type CloseStep,
  closeRedis,
  createListeners,
  createRedis,
  encodeIoNodeRecord,
  type IoNodeRecord,
  isTransientRedisError,
  type Keys,
  type Logger,
  type RedisConnection,
  type RedisTarget,
  type RegistryEvents,
  type RegistryWatcher,
  readLiveNodes,
  runCloseSteps,
  settleWithin,
  watchRegistry,
} from '@iocluster/shared';
import type { Server } from 'socket.io';

/** The peer events an io-node re-emits from the registry. */
export type PeerEvents = Pick<RegistryEvents, 'peer-joined' | 'peer-left'>;

export interface NodeRegistryOptions {
  redis: RedisTarget | string;
  keys: Keys;
  nodeId: string;
  version: string;
  heartbeatIntervalMs: number;
  heartbeatTtlMs: number;
  logger: Logger;
}

/**
 * An io-node's place in the registry: it registers the node, heartbeats its record (URL, connection
 * count) every `heartbeatIntervalMs` with a TTL of `heartbeatTtlMs`, and watches the other nodes.
 *
 * It uses two connections of its own (commands, and a subscriber for join/leave announcements) so that a
 * heartbeat never waits behind the node's ingress traffic.
 */
export interface NodeRegistry {
  /** Live io-nodes other than this one, as of the last registry read. */
  readonly peers: readonly IoNodeRecord[];
  /** Listeners may be registered before `start()`; returns the unsubscribe function. */
  on<E extends keyof PeerEvents>(event: E, listener: PeerEvents[E]): () => void;
  /**
   * Registers the node (replacing any other record with the same URL: a restarted node usually has a new
   * id), starts heartbeats and watches peers. Heartbeats are also sent early (within 250 ms) when a client
   * connects or disconnects, so the frontend's fewest-connections pick sees fresh counts.
   */
  start(self: RegisteredNode): Promise<void>;
  /** Removes the record at once and announces it, stops heartbeats, closes its connections. Idempotent. */
  close(): Promise<void>;
}

/** What the registry reads of its node at each heartbeat. */
export interface RegisteredNode {
  url: string;
  io: Server;
  /** Client events accepted per second lately. */
  eventsPerSecond(): number;
}

/**
 * Atomically: drop expired index members, drop the records this node replaces, write this node's hash
 * with a TTL and (re)score its index member at the new expiry. Returns 1 when the member was new.
 * KEYS: index, own hash, replaced hashes... ARGV: nodeId, now, expiry, ttlMs, n, n replaced ids, fields.
 */
const HEARTBEAT_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local n = tonumber(ARGV[5])
for i = 1, n do
  redis.call('ZREM', KEYS[1], ARGV[5 + i])
  redis.call('DEL', KEYS[2 + i])
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 6 + n))
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
`;

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

/** Creates the registry handle of one io-node; nothing is written until `start()`. */
export function createNodeRegistry(options: NodeRegistryOptions): NodeRegistry {
  const { keys, nodeId, heartbeatIntervalMs, heartbeatTtlMs } = options;
  const logger = options.logger.child({ component: 'io-node:registry' });
  const listeners = createListeners<PeerEvents>(logger);
  let redis: RedisConnection | undefined;
  let sub: RedisConnection | undefined;
  let watcher: RegistryWatcher | undefined;
  let self: RegisteredNode | undefined;
  const startedAt = Date.now();
  let replaced: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  let early: NodeJS.Timeout | undefined;
  let beating: Promise<void> | undefined;
  let lastFailure = '';
  let closing: Promise<void> | undefined;

  async function beat(): Promise<void> {
    if (!redis || !self || closing) return;
    const now = Date.now();
    const record: IoNodeRecord = {
      nodeId,
      url: self.url,
      connections: self.io.of('/').sockets.size,
      startedAt,
      version: options.version,
      lastSeen: now,
      eventsPerSecond: self.eventsPerSecond(),
    };
    const fields = Object.entries(encodeIoNodeRecord(record)).flat();
    const added = await redis.eval(
      HEARTBEAT_SCRIPT,
      2 + replaced.length,
      keys.registryIndex,
      keys.registryNode(nodeId),
      ...replaced.map((id) => keys.registryNode(id)),
      nodeId,
      now,
      now + heartbeatTtlMs,
      heartbeatTtlMs,
      replaced.length,
      ...replaced,
      ...fields,
    );
    replaced = [];
    // New to the index: first registration, or back after Redis lost or expired the record.
    if (added === 1) await redis.publish(keys.registryChannel, nodeId);
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
    if (early || closing) return;
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
      return watcher?.nodes ?? [];
    },
    on: listeners.on,
    async start(me) {
      self = me;
      redis = createRedis(options.redis, 'command', { logger, connectionName: `${nodeId}:registry` });
      sub = createRedis(options.redis, 'subscriber', { logger, connectionName: `${nodeId}:registry-sub` });
      replaced = (await readLiveNodes(redis, keys, Date.now(), logger))
        .filter((node) => node.url === me.url && node.nodeId !== nodeId)
        .map((node) => node.nodeId);
      if (replaced.length > 0)
        logger.info({ replaced, url: me.url }, 'replacing registry records of this URL');
      // The first heartbeat must land: a node that cannot register does not start.
      await beat();
      timer = setInterval(() => void heartbeat(), heartbeatIntervalMs);
      me.io.on('connection', onConnection);
      watcher = watchRegistry({
        redis,
        keys,
        subscriber: sub,
        exclude: nodeId,
        // Twice per heartbeat: a crashed peer then leaves within its TTL plus half an interval, inside the
        // TTL-plus-one-interval bound even with some event-loop delay.
        intervalMs: Math.max(50, Math.floor(heartbeatIntervalMs / 2)),
        logger,
      });
      for (const event of ['peer-joined', 'peer-left'] as const) {
        watcher.on(event, (node) => {
          logger.info({ peer: node.nodeId, url: node.url }, event);
          listeners.emit(event, node);
        });
      }
      await watcher.start();
      logger.info({ url: me.url, heartbeatIntervalMs, heartbeatTtlMs }, 'registered');
    },
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        clearTimeout(early);
        self?.io.off('connection', onConnection);
        const steps: CloseStep[] = [
          // Bounded: with Redis down a heartbeat retries for many seconds, and shutdown must not wait on it.
          ['wait for heartbeat', () => beating && settleWithin(beating, CLOSE_WAIT_MS)],
          [
            'deregister',
            async () => {
              if (redis?.status !== 'ready') return;
              await redis.multi().zrem(keys.registryIndex, nodeId).del(keys.registryNode(nodeId)).exec();
              await redis.publish(keys.registryChannel, nodeId);
              logger.info('left the registry');
            },
          ],
          ['stop watching', () => watcher && settleWithin(watcher.close(), CLOSE_WAIT_MS)],
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
