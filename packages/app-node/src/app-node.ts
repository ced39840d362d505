import { hostname } from 'node:os';
import {
  type CloseStep,
  type ClusterJoin,
  type CommandPublisher,
  changeSelection,
  closeRedis,
  createClientStateStore,
  createCommandPublisher,
  createCommandSender,
  createKeys,
  createOccupancyStore,
  createPresenceStore,
  createRedis,
  type DefaultEventsMap,
  type EventNames,
  type EventParams,
  HISTORY_EVENT,
  type HistoryPage,
  type HistoryPosition,
  INGRESS_MAX_RUNS,
  type IngressConsumer,
  joinWhenReachable,
  OCCUPIED_EVENT,
  openRedis,
  PRESENCE_EVENT,
  PRESENCE_REQUEST_EVENT,
  type PresenceMember,
  packageVersionAt,
  RESERVED_PREFIX,
  type RedisConnection,
  runCloseSteps,
  type SelectionChange,
  userRoom,
  VACATED_EVENT,
} from '@iocluster/shared';
import { type AppNodeOptions, resolveAppNodeOptions } from './app-node-options.js';
import { createAppRegistry } from './app-registry.js';
import { BroadcastOperator } from './broadcast.js';
import { createBullmqIngressConsumer } from './bullmq-ingress-consumer.js';
import { createChannels, type PublishAuthorizer, type SubscribeAuthorizer } from './channels.js';
import { ClientCache } from './client-cache.js';
import { createDeadLetters } from './dead-letters.js';
import { fencedPublisher } from './handler-fence.js';
import { createHealthServer, type HealthServer } from './health-server.js';
import { type EventHandler, type EventMiddleware, ingressHandler, JobProcessor } from './job-processor.js';
import { MessageBuilder } from './message-builder.js';
import { createAppNodeMetrics } from './metrics.js';
import { createAppOccupancy, type OccupancyHook } from './occupancy.js';
import {
  type AppPresence,
  createAppPresence,
  type PresenceAuthorizer,
  type PresenceFormatter,
} from './presence.js';
import type { RemoteSocket } from './remote-socket.js';
import { createAppHistory, type HistoryAuthorizer } from './room-history.js';
import { SeenClients } from './seen-clients.js';
import { createStreamIngressConsumer } from './stream-ingress-consumer.js';
import type { LifecycleHandlers, OnMethod } from './typed-handlers.js';
import { createUnhandledEvents } from './unhandled-events.js';
import { createWebhooks, occupancyEvents, presenceEvents, type Webhooks } from './webhooks.js';

/**
 * The application side of iocluster: handlers for client events, run by BullMQ workers. Typed like
 * Socket.IO's `Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>`: with
 * event maps given, handlers, acks, emits, `socket.data` and `socket.user` are typed and an unknown
 * event name does not compile; without them, anything goes.
 * @typeParam ClientEvents - events clients send (name → listener; an acknowledged event's last
 *   parameter is the ack callback, whose argument is what the handler returns)
 * @typeParam ServerEvents - events clients receive
 * @typeParam InterServerEvents - custom commands for io-node hooks (`app.command(name, payload)`)
 * @typeParam SocketData - the shape of `socket.data`
 * @typeParam User - what the io-node's `authenticate` hook returns, as `socket.user`
 */
export interface AppNode<
  ClientEvents extends object = DefaultEventsMap,
  ServerEvents extends object = DefaultEventsMap,
  InterServerEvents extends object = DefaultEventsMap,
  SocketData extends object = Record<string, unknown>,
  User = unknown,
> {
  readonly nodeId: string;
  /** `http://<host>:<port>/metrics` of its HTTP server after `start()`; '' when `metricsPort` is unset. */
  readonly metricsUrl: string;
  /**
   * Registers the handler of a lifecycle event, or the one handler of a client event (whose return
   * value answers the client's ack); returns a function that removes it.
   */
  on: OnMethod<ClientEvents, ServerEvents, SocketData, User>;
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
  to(rooms: string | readonly string[]): BroadcastOperator<ServerEvents, SocketData, User>;
  /** Alias of `to`. */
  in(rooms: string | readonly string[]): BroadcastOperator<ServerEvents, SocketData, User>;
  /** Targets every client but these rooms / socket ids. */
  except(rooms: string | readonly string[]): BroadcastOperator<ServerEvents, SocketData, User>;
  /** Emits to every client on every io-node. */
  emit<E extends EventNames<ServerEvents>>(event: E, ...args: EventParams<ServerEvents, E>): true;
  /** Socket.IO's `volatile`: emits that may be lost and are never kept in a room's history. */
  readonly volatile: BroadcastOperator<ServerEvents, SocketData, User>;
  /** Every client with `timeout(ms)` for `emitWithAck` and the selection requests. */
  timeout(ms: number): BroadcastOperator<ServerEvents, SocketData, User>;
  /** Every socket on every io-node (see `BroadcastOperator.fetchSockets`). */
  fetchSockets(): Promise<RemoteSocket<ServerEvents, SocketData, User>[]>;
  /** Every socket joins `rooms`. */
  socketsJoin(rooms: string | readonly string[]): Promise<SelectionChange>;
  /** Every socket leaves `rooms`. */
  socketsLeave(rooms: string | readonly string[]): Promise<SelectionChange>;
  /** Disconnects every socket. */
  disconnectSockets(close?: boolean): Promise<SelectionChange>;
  /**
   * Targets every connection of user `id` (what `authenticate` returned as `id` or `sub`), on every
   * io-node: its reserved room `userRoom(id)`. Emit to it, fetch its sockets, make them join rooms.
   */
  toUser(id: string): BroadcastOperator<ServerEvents, SocketData, User>;
  /**
   * Disconnects every connection of user `id`; each client first gets `$error` `{ code: 'DISCONNECTED',
   * message: reason }`. Resolves with how many were disconnected.
   */
  disconnectUser(id: string, reason?: string): Promise<SelectionChange>;
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
  command<E extends EventNames<InterServerEvents>>(
    name: E,
    payload: EventParams<InterServerEvents, E>[0],
    target?: { socketId: string; nodeId: string },
  ): void;
  /** Resolves once every command sent so far is in Redis. */
  flush(): Promise<void>;
  /** A room's presence roster: its members, each with its connections and their meta. */
  presence(room: string): Promise<PresenceMember[]>;
  /** How many members a room's roster has, without reading it. */
  presenceCount(room: string): Promise<number>;
  /**
   * Sockets in a room across the cluster, for rooms the io-nodes count (`OCCUPANCY_ROOMS`; 0 for any
   * other): one small hash read.
   */
  occupancy(room: string): Promise<number>;
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

/**
 * Builds an app-node (nothing connects before `start()`). Event maps, as type arguments, type its
 * handlers: `createAppNode<ClientEvents, ServerEvents>(options)`.
 */
export function createAppNode<
  ClientEvents extends object = DefaultEventsMap,
  ServerEvents extends object = DefaultEventsMap,
  InterServerEvents extends object = DefaultEventsMap,
  SocketData extends object = Record<string, unknown>,
  User = unknown,
>(options: AppNodeOptions): AppNode<ClientEvents, ServerEvents, InterServerEvents, SocketData, User> {
  const opts = resolveAppNodeOptions(options);
  const keys = createKeys(opts.prefix);
  const { nodeId } = opts;
  const logger = opts.logger.child({ component: 'app-node', appNodeId: nodeId });
  const handlers = new Map<string, EventHandler>();
  const middleware: EventMiddleware[] = [];

  // Every module is built here; the connections open in start().
  const publisherRedis: RedisConnection = createRedis(opts.redis, 'publisher', {
    logger,
    connectionName: `${nodeId}:pub`,
    lazy: true,
    // The delivery script and the ingress acknowledgements go out one per turn, each after its awaited
    // predecessors: an auto-pipeline of one (a Pipeline copying the ~60 scripts BullMQ's dead-letter queue
    // defines on this connection) cost ~140–280 µs of CPU per EVALSHA against ~50–85 sent at once.
    sentAtOnce: ['evalsha', 'xack'],
  });
  // BullMQ's workers block on a connection of their own; an injected ingress brings its own.
  const workerRedis: RedisConnection | undefined = opts.ingress
    ? undefined
    : createRedis(opts.redis, 'blocking', { logger, connectionName: `${nodeId}:worker`, lazy: true });
  // Answers to this node's requests (fetchSockets, emitWithAck...) come on a subscriber of its own.
  const { transport, requester, replySubscriber } = createCommandSender({
    redis: opts.redis,
    connection: publisherRedis,
    keys,
    logger,
    name: nodeId,
    transport: {
      inboxRetentionMs: opts.inboxRetentionMs,
      oneRoundTrip: opts.commandAppendScript,
      // A turn's delivery shares its write with the Streams ingress's next read (see its `lane`).
      lane: () => streamIngress?.lane(),
      recoveryWindowMs: opts.recoveryWindowMs,
      replicaWait: opts.replicaWait,
    },
    commands: opts.commands,
    replies: opts.replies,
  });
  const history = createAppHistory(transport.history, opts.history);
  // Fenced: a handler cut off at its time limit publishes nothing more (handler-fence.ts).
  const publisher: CommandPublisher = fencedPublisher(
    createCommandPublisher(transport, {
      history,
      logger,
      status: () => publisherRedis.status,
      requester,
    }),
    logger,
  );
  handlers.set(HISTORY_EVENT, (socket, room, request) => history.handleRequest(socket, room, request));
  // Streams: a job given up on becomes a failed BullMQ job (the BullMQ transport keeps its own failed jobs).
  const deadLetters =
    !opts.ingress && opts.ingressTransport === 'streams'
      ? createDeadLetters({ keys, connection: publisherRedis, blockingConnection: workerRedis!, logger })
      : undefined;
  const streamIngress = deadLetters
    ? createStreamIngressConsumer({
        keys,
        partitions: opts.ingressPartitions,
        consumerName: nodeId,
        // One blocking reader per partition, opened and closed by the consumer.
        connection: () =>
          createRedis(opts.redis, 'blocking', { logger, connectionName: `${nodeId}:ingress`, lazy: true }),
        readerConnection: publisherRedis,
        concurrency: opts.concurrency,
        leaseMs: opts.lockDurationMs,
        claimIntervalMs: opts.stalledIntervalMs,
        maxDeliveries: INGRESS_MAX_RUNS,
        deadLetters,
        logger,
      })
    : undefined;
  const ingress: IngressConsumer =
    opts.ingress ??
    streamIngress ??
    createBullmqIngressConsumer({
      keys,
      partitions: opts.ingressPartitions,
      connection: () => workerRedis!,
      readerConnection: publisherRedis,
      concurrency: opts.concurrency,
      lockDurationMs: opts.lockDurationMs,
      stalledIntervalMs: opts.stalledIntervalMs,
      maxStalledCount: opts.maxStalledCount,
      logger,
    });
  const metrics = createAppNodeMetrics({
    isRegistered: (event) => handlers.has(event),
    queueCounts: () => ingress.backlog(),
  });
  metrics.watchRedis(publisherRedis, 'publisher');
  if (workerRedis) metrics.watchRedis(workerRedis, 'blocking');
  const presence: AppPresence = createAppPresence(
    createPresenceStore(publisherRedis, keys),
    publisher,
    logger,
  );
  handlers.set(PRESENCE_REQUEST_EVENT, (socket, room) => presence.request(socket, room));
  const clientStateStore = opts.clientStates
    ? undefined
    : createClientStateStore(publisherRedis, keys, opts.ingressPartitions, logger);
  const processor = new JobProcessor(
    { handlers, middleware },
    publisher,
    new SeenClients(opts.seenClientsCapacity),
    logger,
    {
      handlerTimeoutMs: opts.handlerTimeoutMs,
      earlierAnswer: (session, eid) => transport.earlierAnswer(session, eid),
      onHandled: metrics.handled,
      onUnhandled: createUnhandledEvents({ logger, count: metrics.unhandled }),
      presenceScope: () => presence.scope(),
      clients: new ClientCache(
        opts.clientStates ?? clientStateStore!,
        opts.clientCacheCapacity,
        metrics.clientState,
      ),
      keepsHistory: history.keeps,
    },
  );
  // The webhook worker blocks on a connection of its own.
  const webhookRedis: RedisConnection | undefined =
    opts.webhookUrl === undefined
      ? undefined
      : createRedis(opts.redis, 'blocking', { logger, connectionName: `${nodeId}:webhooks`, lazy: true });
  const webhooks: Webhooks | undefined =
    opts.webhookUrl === undefined
      ? undefined
      : createWebhooks({
          url: opts.webhookUrl,
          secret: opts.webhookSecret!,
          events: opts.webhookEvents,
          lingerMs: opts.webhookLingerMs,
          attempts: opts.webhookAttempts,
          backoffMs: opts.webhookBackoffMs,
          keys,
          connection: publisherRedis,
          blockingConnection: webhookRedis!,
          logger,
        });
  const occupancy = createAppOccupancy(
    logger,
    webhooks && ((changes) => webhooks.record(occupancyEvents(changes))),
  );
  const occupancyStore = createOccupancyStore(publisherRedis, keys);
  const handle = ingressHandler(processor, {
    presence: webhooks
      ? {
          async run(changes, context) {
            await presence.run(changes, context);
            await webhooks.record(presenceEvents(changes, Date.now()));
          },
        }
      : presence,
    occupancy,
    onJob: metrics.job,
  });
  let started = false;
  let closing: Promise<void> | undefined;
  let metricsUrl = '';
  let cluster: ClusterJoin | undefined;
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
            const waiting = cluster?.reason();
            if (waiting) reasons.push(waiting);
            else if (publisherRedis.status !== 'ready' || (workerRedis && workerRedis.status !== 'ready')) {
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

  const root = () => new BroadcastOperator<DefaultEventsMap>(publisher);
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
      if (event === OCCUPIED_EVENT || event === VACATED_EVENT)
        return occupancy.on(
          event === OCCUPIED_EVENT ? 'occupied' : 'vacated',
          handler as unknown as OccupancyHook,
        );
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
    get volatile() {
      return root().volatile;
    },
    timeout: (ms) => root().timeout(ms),
    fetchSockets: () => root().fetchSockets(),
    socketsJoin: (rooms) => root().socketsJoin(rooms),
    socketsLeave: (rooms) => root().socketsLeave(rooms),
    disconnectSockets: (close) => root().disconnectSockets(close),
    toUser: (id) => root().to(userRoom(checkUserId(id))),
    disconnectUser(id, reason) {
      const select = { rooms: [userRoom(checkUserId(id))] };
      return changeSelection(publisher, (request) =>
        reason === undefined
          ? { type: 'sockets-disconnect', select, close: true, request }
          : { type: 'sockets-disconnect', select, close: true, reason: String(reason), request },
      );
    },
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
    occupancy: (room) => occupancyStore.members(room),
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
      openRedis(workerRedis);
      openRedis(webhookRedis);
      // Says once which Redis it waits for and why (and /readyz says it too), rather than failing its
      // first commands after their retries.
      cluster = joinWhenReachable([publisherRedis], {
        target: opts.redis,
        keys,
        prefix: opts.prefix,
        clusterId: opts.clusterId,
        logger,
      });
      await cluster.joined;
      openRedis(replySubscriber);
      await requester.start();
      await deadLetters?.start();
      await webhooks?.start();
      await ingress.start(handle, { onMalformed: () => metrics.job('failed') });
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
          ['close the ingress consumer', () => ingress.close()],
          ['close dead letters', () => deadLetters?.close()],
          ['close webhooks', () => webhooks?.close()],
          ['stop health server', () => health?.close()],
          ['stop the cluster id refresh', () => cluster?.close()],
          ['flush commands', () => publisher.close()],
          ['stop watching client states', () => clientStateStore?.close()],
          ['end requests', () => requester.close()],
          [
            'close redis',
            () =>
              Promise.all([
                closeRedis(publisherRedis),
                closeRedis(workerRedis),
                closeRedis(replySubscriber),
                closeRedis(webhookRedis),
              ]),
          ],
        ];
        await runCloseSteps(steps, logger, 'app-node');
        logger.info('app-node closed');
      })();
      return closing;
    },
  };
  // The maps only narrow the signatures: at run time every app-node is the same loose one.
  return app as unknown as AppNode<ClientEvents, ServerEvents, InterServerEvents, SocketData, User>;
}

/** A user id as `toUser` / `disconnectUser` take it: a non-empty string. */
function checkUserId(id: string): string {
  if (typeof id !== 'string' || id.length === 0) throw new TypeError('user id must be a non-empty string');
  return id;
}
