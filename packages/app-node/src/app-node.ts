import { hostname } from 'node:os';
import {
  type CloseStep,
  type ClusterMembership,
  closeRedis,
  createKeys,
  createPresenceStore,
  createRedis,
  decodeIngressJob,
  HISTORY_EVENT,
  type HistoryPosition,
  type IngressJob,
  joinCluster,
  PRESENCE_EVENT,
  PRESENCE_REQUEST_EVENT,
  type PresenceChange,
  type PresenceMember,
  packageVersionAt,
  RESERVED_PREFIX,
  type RedisConnection,
  type RedisWait,
  runCloseSteps,
  WireError,
  waitForRedis,
} from '@iocluster/shared';
import { UnrecoverableError } from 'bullmq';
import { type AppNodeOptions, resolveAppNodeOptions } from './app-node-options.js';
import { createAppRegistry } from './app-registry.js';
import type { AppSocket } from './app-socket.js';
import { BroadcastOperator } from './broadcast.js';
import { createChannels, type PublishAuthorizer, type SubscribeAuthorizer } from './channels.js';
import { type CommandPublisher, createCommandPublisher } from './command-publisher.js';
import { createHealthServer, type HealthServer } from './health-server.js';
import { createIngressWorkers, type IngressWorkers } from './ingress-workers.js';
import { type EventHandler, type EventMiddleware, JobProcessor } from './job-processor.js';
import { MessageBuilder } from './message-builder.js';
import { createAppNodeMetrics } from './metrics.js';
import {
  type AppPresence,
  createAppPresence,
  type PresenceAuthorizer,
  type PresenceFormatter,
} from './presence.js';
import { createAppHistory, earlierAnswer, type HistoryAuthorizer, type HistoryPage } from './room-history.js';
import { SeenClients } from './seen-clients.js';
import { createUnhandledEvents } from './unhandled-events.js';

/** Lifecycle events an app-node raises besides client events. */
export interface LifecycleHandlers {
  /** A client connected (to any io-node). */
  connection: (socket: AppSocket) => unknown;
  /** This app-node meets a client whose `connection` it did not run: restore application context. */
  'no-client': (socket: AppSocket) => unknown;
  /** A client disconnected; `reason` is Socket.IO's. */
  disconnect: (socket: AppSocket, reason: string) => unknown;
  /**
   * A presence member's first connection joined a room, or its last one left (docs/presence.md). Any
   * number of these hooks may be registered.
   */
  presence: (change: PresenceChange) => unknown;
}

/** The application side of iocluster: handlers for client events, run by BullMQ workers. */
export interface AppNode {
  readonly nodeId: string;
  /** `http://<host>:<port>/metrics` of its HTTP server after `start()`; '' when `metricsPort` is unset. */
  readonly metricsUrl: string;
  /** Registers the handler of a lifecycle event; returns a function that removes it. */
  on<K extends keyof LifecycleHandlers>(event: K, handler: LifecycleHandlers[K]): () => void;
  /** Registers the one handler of a client event; its return value answers the client's ack. */
  on<A extends unknown[]>(event: string, handler: EventHandler<A>): () => void;
  /**
   * Adds middleware run before every client event's handler (channel events `$subscribe`, `$unsubscribe`,
   * `$publish` included).
   */
  use(middleware: EventMiddleware): () => void;
  /** Adds an authorizer every client subscription passes (in order of registration); returns a remover. */
  authorizeSubscribe(fn: SubscribeAuthorizer): () => void;
  /** Adds an authorizer every client publication passes; it may rewrite the data. Returns a remover. */
  authorizePublish(fn: PublishAuthorizer): () => void;
  /** Targets rooms on every io-node. */
  to(rooms: string | readonly string[]): BroadcastOperator;
  /** Alias of `to`. */
  in(rooms: string | readonly string[]): BroadcastOperator;
  /** Targets every client but these rooms / socket ids. */
  except(rooms: string | readonly string[]): BroadcastOperator;
  /** Emits to every client on every io-node. */
  emit(event: string, ...args: unknown[]): true;
  /** The 2011 message builder. */
  message(): MessageBuilder;
  /**
   * A room's history (rooms chosen by `AppNodeOptions.history`): the newest `limit` messages (100 by
   * default, 1000 at most), or those after `since` (a position from an earlier read or a client).
   */
  history(room: string, options?: { since?: HistoryPosition; limit?: number }): Promise<HistoryPage>;
  /**
   * Decides which clients may read a room's history with the reserved `$history` event (default:
   * members of the room). Returns the function that restores the default.
   */
  authorizeHistory(fn: HistoryAuthorizer): () => void;
  /**
   * Rooms whose messages are kept from now on (globs like `chat:*`, or RegExps), besides
   * `AppNodeOptions.history.rooms`: an application can opt its rooms in from its handlers module. Every
   * app-node must keep the same rooms (they all load that module).
   */
  keepHistory(patterns: string | RegExp | readonly (string | RegExp)[]): void;
  /**
   * Sends a custom command, handled on io-nodes by the hook registered under `name`: to the io-node
   * holding `target.socketId` when given, else to every io-node.
   */
  command(name: string, payload: unknown, target?: { socketId: string; nodeId: string }): void;
  /** Resolves once every command sent so far is in Redis. */
  flush(): Promise<void>;
  /** A room's presence roster: its members, each with its connections and their meta. */
  presence(room: string): Promise<PresenceMember[]>;
  /** How many members a room's roster has, without reading it. */
  presenceCount(room: string): Promise<number>;
  /**
   * Who may read a room's roster with the client request `$presence` (room name, ack).
   * @defaultValue members of the room (sockets in it)
   */
  authorizePresence(authorizer: PresenceAuthorizer): void;
  /**
   * What a room's members receive in the `presence` event when a member joins or leaves (null: nothing).
   * @defaultValue `{ room, joined: { ...meta, id } }` / `{ room, left: { ...meta, id } }`
   */
  formatPresence(formatter: PresenceFormatter): void;
  start(): Promise<void>;
  /** Finishes running jobs, then closes. Idempotent. */
  close(): Promise<void>;
}

export function createAppNode(options: AppNodeOptions): AppNode {
  const opts = resolveAppNodeOptions(options);
  const keys = createKeys(opts.prefix);
  const { nodeId } = opts;
  const logger = opts.logger.child({ component: 'app-node', appNodeId: nodeId });
  const handlers = new Map<string, EventHandler>();
  const middleware: EventMiddleware[] = [];

  const publisherRedis: RedisConnection = createRedis(opts.redis, 'publisher', {
    logger,
    connectionName: `${nodeId}:pub`,
  });
  const history = createAppHistory(publisherRedis, keys, opts.history);
  const publisher: CommandPublisher = createCommandPublisher(publisherRedis, keys, logger, {
    inboxRetentionMs: opts.inboxRetentionMs,
    oneRoundTrip: opts.commandAppendScript,
    history,
    recoveryWindowMs: opts.recoveryWindowMs,
    replicaWait: opts.replicaWait,
  });
  handlers.set(HISTORY_EVENT, (socket, room, request) => history.handleRequest(socket, room, request));
  // Declared before the processor it calls: `process` and `counts` only run once the node has started.
  const ingress: IngressWorkers = createIngressWorkers({
    keys,
    partitions: opts.ingressPartitions,
    async process(job) {
      let payload: IngressJob;
      try {
        payload = decodeIngressJob(job.data);
      } catch (err) {
        logger.error({ err, jobId: job.id }, 'malformed ingress job failed');
        throw new UnrecoverableError(err instanceof WireError ? err.message : String(err));
      }
      await processor.run(payload, { jobId: job.id });
      if (payload.presence) await presence.run(payload.presence, { jobId: job.id });
    },
    connection: () => {
      workerRedis = createRedis(opts.redis, 'blocking', { logger, connectionName: `${nodeId}:worker` });
      metrics.watchRedis(workerRedis, 'blocking');
      return workerRedis;
    },
    readerConnection: publisherRedis,
    concurrency: opts.concurrency,
    lockDurationMs: opts.lockDurationMs,
    stalledIntervalMs: opts.stalledIntervalMs,
    maxStalledCount: opts.maxStalledCount,
    onJob: (result) => metrics.job(result),
    logger,
  });
  const metrics = createAppNodeMetrics({
    isRegistered: (event) => handlers.has(event),
    queueCounts: () => ingress.counts(),
  });
  metrics.watchRedis(publisherRedis, 'publisher');
  const presence: AppPresence = createAppPresence(
    createPresenceStore(publisherRedis, keys),
    publisher,
    logger,
  );
  handlers.set(PRESENCE_REQUEST_EVENT, (socket, room) => presence.request(socket, room));
  const processor = new JobProcessor(
    { handlers, middleware },
    publisher,
    new SeenClients(opts.seenClientsCapacity),
    logger,
    {
      handlerTimeoutMs: opts.handlerTimeoutMs,
      earlierAnswer: (session, eid) => earlierAnswer(publisherRedis, keys, session, eid),
      onHandled: metrics.handled,
      onUnhandled: createUnhandledEvents({ logger, count: metrics.unhandled }),
    },
  );
  let started = false;
  let workerRedis: RedisConnection | undefined;
  let closing: Promise<void> | undefined;
  let metricsUrl = '';
  let cluster: ClusterMembership | undefined;
  let redisWait: RedisWait | undefined;
  const health: HealthServer | undefined =
    opts.metricsPort === undefined
      ? undefined
      : createHealthServer({
          host: opts.metricsHost,
          port: opts.metricsPort,
          nodeId,
          logger,
          metrics: metrics.serve,
          notReadyReasons: () => {
            const reasons: string[] = [];
            if (closing) reasons.push('shutting down');
            else if (!ingress.running()) reasons.push('not started');
            const waiting = redisWait?.reason();
            if (waiting) reasons.push(waiting);
            else if (publisherRedis.status !== 'ready' || workerRedis?.status !== 'ready') {
              reasons.push('redis unreachable');
            }
            return reasons;
          },
        });
  const registry = createAppRegistry({
    redis: publisherRedis,
    keys,
    nodeId,
    concurrency: opts.concurrency,
    version: opts.version ?? packageVersionAt(new URL('../package.json', import.meta.url)),
    metricsUrl: () => metricsUrl,
    rates: metrics.rates,
    heartbeatIntervalMs: opts.heartbeatIntervalMs,
    heartbeatTtlMs: opts.heartbeatTtlMs,
    logger,
  });

  const root = () => new BroadcastOperator(publisher);
  const channels = createChannels({
    defaults: { subscribe: 'allow', publish: 'deny', ...opts.channels },
    emitToRoom: (room, event, payload) => root().to(room).emit(event, payload),
  });
  for (const [event, handler] of channels.handlers) handlers.set(event, handler);

  const app: AppNode = {
    nodeId,
    get metricsUrl() {
      return metricsUrl;
    },
    on(event: string, handler: EventHandler<never[]>) {
      if (typeof event !== 'string' || event.length === 0)
        throw new TypeError('app.on(): event must be a non-empty string');
      if (event.startsWith(RESERVED_PREFIX)) {
        throw new TypeError(`app.on("${event}"): names starting with "${RESERVED_PREFIX}" are reserved`);
      }
      if (typeof handler !== 'function')
        throw new TypeError(`app.on("${event}"): handler must be a function`);
      if (event === PRESENCE_EVENT)
        return presence.onChange(handler as unknown as LifecycleHandlers['presence']);
      if (handlers.has(event)) {
        throw new Error(
          `app.on("${event}"): a handler is already registered; remove it first (on() returns a remover)`,
        );
      }
      const stored = handler as unknown as EventHandler;
      handlers.set(event, stored);
      return () => {
        if (handlers.get(event) === stored) handlers.delete(event);
      };
    },
    use(fn) {
      middleware.push(fn);
      return () => {
        const index = middleware.indexOf(fn);
        if (index >= 0) middleware.splice(index, 1);
      };
    },
    authorizeSubscribe: (fn) => channels.authorizeSubscribe(fn),
    authorizePublish: (fn) => channels.authorizePublish(fn),
    to: (rooms) => root().to(rooms),
    in: (rooms) => root().to(rooms),
    except: (rooms) => root().except(rooms),
    emit: (event, ...args) => root().emit(event, ...args),
    message: () => new MessageBuilder(publisher),
    history: (room, options) => history.read(room, options),
    keepHistory(patterns) {
      history.keep(typeof patterns === 'string' || patterns instanceof RegExp ? [patterns] : patterns);
    },
    authorizeHistory: (fn) => history.authorize(fn),
    command(name, payload, target) {
      if (target)
        publisher.publish(target.nodeId, { type: 'custom', name, payload, socketId: target.socketId });
      else publisher.publish(null, { type: 'custom', name, payload });
    },
    flush: () => publisher.flush(),
    presence: (room) => presence.roster(room),
    presenceCount: (room) => presence.count(room),
    authorizePresence: (authorizer) => presence.authorize(authorizer),
    formatPresence: (formatter) => presence.format(formatter),

    async start() {
      if (started) throw new Error('app-node already started');
      started = true;
      // Listening first: a port in use fails the start before it wrote anything to Redis.
      if (health) {
        await health.start();
        // Listening on every interface: the host name is the address others (a container network) know.
        const host =
          opts.metricsHost === '0.0.0.0' || opts.metricsHost === '::' ? hostname() : opts.metricsHost;
        metricsUrl = `http://${host}:${health.port}/metrics`;
      }
      // Says once which Redis it waits for and why (and /readyz says it too), rather than failing its
      // first commands after their retries.
      redisWait = waitForRedis([publisherRedis], { target: opts.redis, logger });
      await redisWait.ready;
      cluster = await joinCluster(publisherRedis, keys, {
        clusterId: opts.clusterId,
        prefix: opts.prefix,
        logger,
      });
      await ingress.start();
      await registry.start();
      logger.info(
        {
          concurrency: opts.concurrency,
          lockDurationMs: opts.lockDurationMs,
          handlers: [...handlers.keys()],
        },
        'app-node started',
      );
    },

    close() {
      closing ??= (async () => {
        const steps: CloseStep[] = [
          ['leave registry', () => registry.close()],
          ['close workers and queue readers', () => ingress.close()],
          ['stop health server', () => health?.close()],
          ['stop the cluster id refresh', () => cluster?.close()],
          ['flush commands', () => publisher.close()],
          ['close redis', () => Promise.all([closeRedis(publisherRedis), closeRedis(workerRedis)])],
        ];
        await runCloseSteps(steps, logger, 'app-node');
        logger.info('app-node closed');
      })();
      return closing;
    },
  };
  return app;
}
