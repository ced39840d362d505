import { createServer, type Server as HttpServer, type ServerResponse } from 'node:http';
import {
  type CloseStep,
  type ClusterJoin,
  type CommandSubscriber,
  closeRedis,
  createClientStateStore,
  createKeys,
  createOccupancyStore,
  createPresenceStore,
  createRedis,
  createRoomHistory,
  createRoutingTable,
  deferred,
  type IngressProducer,
  IoclusterError,
  joinWhenReachable,
  type Logger,
  listen,
  matchRooms,
  PORT_PLACEHOLDER,
  type RedisRole,
  runCloseSteps,
  settleWithin,
} from '@iocluster/shared';
import { Server, type Socket } from 'socket.io';
import { attachClientConnections } from './client-connections.js';
import { ClientStateSync, clientStateTtlMs } from './client-state-sync.js';
import { createCommandApplier } from './command-applier.js';
import { createInboxSubscriber } from './command-bus.js';
import { EventSequencer } from './event-sequencer.js';
import { FairWebSocketServer } from './fair-websocket-server.js';
import { createIngressProducer } from './ingress-queue.js';
import { type IoNodeOptions, resolveIoNodeOptions } from './io-node-options.js';
import { createIoNodeMetrics } from './metrics.js';
import { createNodeRegistry, type PeerEvents, packageVersion } from './node-registry.js';
import { createPresenceTracker } from './presence-tracker.js';
import { createClientRecovery } from './recovery.js';
import { createRoomDelivery } from './room-delivery.js';
import { followMembership } from './room-membership.js';
import { createRoomOccupancy } from './room-occupancy.js';
import { createRoomRouting } from './room-routing.js';
import { createSelectionCommands } from './selection-commands.js';
import { createSessionStore } from './sessions.js';
import { parserOptions } from './socketio-parser.js';
import { createStreamIngressProducer } from './stream-ingress-producer.js';
import { createUserConnections } from './user-connections.js';

/**
 * Events an io-node raises for embedders: its peers coming and going, from its one liveness watcher.
 * On `peer-expired` (a peer's record expired without a goodbye: dead, or cut off from Redis) its presence
 * entries go and its clients' recovery window starts; each live node that sees it raises it. On
 * `peer-purged` (a peer stayed expired past the inbox retention) its inbox and routing entries are gone;
 * exactly one live node raises it per peer, whoever claimed it first.
 */
export type IoNodeEvents = PeerEvents;

/** Socket.IO server whose client events go to app-nodes through Redis. */
export interface IoNode {
  readonly nodeId: string;
  readonly io: Server;
  /** Port actually listened on (after `start()`). */
  readonly port: number;
  /** URL clients use to reach this node (after `start()`). */
  readonly url: string;
  /** Connected clients. */
  readonly connections: number;
  /** (room, connection) entries this node holds in presence rosters: the source of a presence gauge. */
  readonly presenceEntries: number;
  /**
   * Settles with `start()`: resolves once the node listens and is registered (so frontends can send it
   * clients), rejects if starting failed. Never settles if `start()` is never called.
   */
  readonly ready: Promise<void>;
  /** Listed io-nodes other than this one, as of the last registry read (every `heartbeatIntervalMs` / 2). */
  readonly peers: number;
  /**
   * `peer-joined` / `peer-left` with the peer's registry record; a crashed peer leaves within its
   * `heartbeatTtlMs` plus half this node's `heartbeatIntervalMs`. Returns the unsubscribe function.
   */
  on<E extends keyof IoNodeEvents>(event: E, listener: IoNodeEvents[E]): () => void;
  /** Connects, becomes live, listens, then is handed out; see `ready`. */
  start(): Promise<void>;
  /**
   * Leaves the registry at once, then drains: refuses new clients, lets in-flight events finish,
   * disconnects clients, closes. Idempotent.
   */
  close(): Promise<void>;
}

/** Longest a close step waits on Redis (it may be the reason we are closing). */
const CLOSE_REDIS_WAIT_MS = 2_000;
/**
 * Bytes an Engine.IO frame may carry beyond `maxPayloadBytes` (event name, packet header): a frame a bit
 * over the limit is still read and refused with PAYLOAD_TOO_LARGE; a far larger one closes the connection.
 */
const FRAME_OVERHEAD_BYTES = 4_096;

export function createIoNode(options: IoNodeOptions): IoNode {
  const opts = resolveIoNodeOptions(options);
  const keys = createKeys(opts.prefix);
  const { nodeId } = opts;
  const logger = opts.logger.child({ component: 'io-node', ioNodeId: nodeId });
  const connect = (role: RedisRole, name: string, sharded = false) =>
    createRedis(opts.redis, role, { logger, connectionName: `${nodeId}:${name}`, lazy: true, sharded });
  const commandRedis = connect('command', 'cmd');
  // Sharded on a Cluster: the inbox's pushes are carried by its shard alone (command-bus.ts).
  const inboxRedis = connect('subscriber', 'inbox', true);
  const routingRedis = connect('publisher', 'routing');
  // Awaiting `ready` is optional; start() reports a failure to its own caller.
  const ready = deferred();
  let port = 0;
  let url = '';
  let closing: Promise<void> | undefined;
  let isReady = false;
  let started = false;
  // Ends a start still waiting for Redis when the node is closed meanwhile.
  const starting = new AbortController();
  let cluster: ClusterJoin | undefined;

  // Engine.IO takes its own path (/socket.io/) and hands every other request to this handler.
  const http: HttpServer = createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (path === '/metrics') return void metrics.serve(res);
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok', nodeId });
    if (path === '/readyz') {
      const reasons: string[] = [];
      if (!isReady) reasons.push(closing ? 'shutting down' : 'not started');
      const waiting = cluster?.reason();
      if (waiting) reasons.push(waiting);
      else if (commandRedis.status !== 'ready' || inboxRedis.status !== 'ready')
        reasons.push('redis unreachable');
      return sendJson(res, reasons.length === 0 ? 200 : 503, {
        status: reasons.length === 0 ? 'ready' : 'not-ready',
        nodeId,
        connections: io.of('/').sockets.size,
        reasons,
      });
    }
    sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${path ?? ''}` } });
  });
  const io = new Server(http, {
    transports: ['polling', 'websocket'],
    cors: { origin: opts.corsOrigins === '*' ? true : [...opts.corsOrigins], credentials: true },
    maxHttpBufferSize: opts.maxPayloadBytes + FRAME_OVERHEAD_BYTES,
    wsEngine: FairWebSocketServer,
    ...parserOptions(opts.parser),
    ...opts.socketIo,
  });
  const metrics = createIoNodeMetrics(
    () => io.of('/').sockets.size,
    () => presence.entries,
  );
  metrics.watchRedis(commandRedis, 'command');
  metrics.watchRedis(inboxRedis, 'inbox');
  metrics.watchRedis(routingRedis, 'routing');

  const routing = createRoutingTable(routingRedis, keys);
  const subscriber: CommandSubscriber =
    opts.commands ??
    createInboxSubscriber({
      nodeId,
      keys,
      routing,
      reader: inboxRedis,
      commands: routingRedis,
      logger,
      onLag: metrics.inboxLag,
    });
  const producer: IngressProducer =
    opts.ingress ??
    (opts.ingressTransport === 'streams' ? createStreamIngressProducer : createIngressProducer)(
      commandRedis,
      keys,
      logger,
      {
        partitions: opts.ingressPartitions,
        afterReconnect: () => subscriber.ensureInbox(),
        replicaWait: opts.replicaWait,
      },
    );
  const clientStateStore = opts.clientStates
    ? { store: opts.clientStates, close: () => undefined }
    : (() => {
        const store = createClientStateStore(commandRedis, keys, opts.ingressPartitions, logger);
        return { store, close: () => store.close() };
      })();
  const clientStates = new ClientStateSync({
    store: clientStateStore.store,
    ttlMs: clientStateTtlMs(opts.eventTimeoutMs),
    keepAfterEndMs: opts.eventTimeoutMs,
    logger,
  });
  const sequencer = new EventSequencer({
    nodeId,
    producer,
    logger,
    ordering: opts.ordering,
    batchMaxEvents: opts.batchMaxEvents,
    eventTimeoutMs: opts.eventTimeoutMs,
    maxQueuedPerClient: opts.maxQueuedPerClient,
    maxPendingEvents: opts.maxPendingEvents,
    maxJobsInFlight: opts.maxJobsInFlight,
    hooks: { onAnswered: metrics.answered, onTimedOut: metrics.timedOut },
    clientStates,
  });
  const roomRouting = createRoomRouting(io, nodeId, routing, logger);
  const history = createRoomHistory(routingRedis, keys);
  const delivery = createRoomDelivery(io, history, logger);
  const sessions = createSessionStore(routingRedis, keys, nodeId, opts.recoveryWindowMs, logger);
  const registry = createNodeRegistry({
    redis: opts.redis,
    keys,
    nodeId,
    version: opts.version ?? packageVersion(),
    heartbeatIntervalMs: opts.heartbeatIntervalMs,
    heartbeatTtlMs: opts.heartbeatTtlMs,
    retentionMs: opts.inboxRetentionMs,
    io,
    eventsPerSecond: metrics.eventsPerSecond,
    purge: (dead) => routing.purge(dead),
    afterBeat: async (takenForDead) => {
      // Peers purged its presence and user entries meanwhile (and, past the retention, its routing).
      if (takenForDead) {
        reassert();
        users?.reassert();
      }
      await subscriber.ensureInbox();
    },
    logger,
  });
  const liveNodes = async () => {
    await registry.refresh();
    return (id: string) => registry.isLive(id);
  };
  const users =
    opts.maxConnectionsPerUser > 0
      ? createUserConnections({
          redis: routingRedis,
          keys,
          nodeId,
          maxPerUser: opts.maxConnectionsPerUser,
          liveNodes,
          sweepIntervalMs: opts.heartbeatIntervalMs,
          logger,
        })
      : undefined;
  const presence = createPresenceTracker({
    io,
    nodeId,
    store: createPresenceStore(routingRedis, keys),
    userOf: (socket) => clients.userOf(socket),
    anonymousIdOf: (socket) => recovery.originOf(socket) ?? socket.id,
    liveNodes,
    enqueue: (jobs) => producer.add(jobs),
    sweepIntervalMs: opts.heartbeatIntervalMs,
    logger,
  });
  // Off unless OCCUPANCY_ROOMS names rooms: counting costs a Redis write per room change.
  const occupancy =
    opts.occupancyRooms && opts.occupancyRooms.length > 0
      ? createRoomOccupancy({
          io,
          nodeId,
          store: createOccupancyStore(routingRedis, keys),
          counts: matchRooms(opts.occupancyRooms),
          liveNodes: async () => {
            await registry.refresh();
            return (id) => registry.isLive(id);
          },
          enqueue: (jobs) => producer.add(jobs),
          sweepIntervalMs: opts.heartbeatIntervalMs,
          logger,
        })
      : undefined;
  const recovery = createClientRecovery({
    sessions,
    history,
    delivery,
    nodeId,
    routingFlushed: () => roomRouting.flushed(),
    presenceOf: (socket) => presence.snapshot(socket.id),
    restorePresence: (socket, entries) => presence.restore(socket, entries),
    logger,
  });
  const clients = attachClientConnections(io, {
    nodeId,
    options: opts,
    metrics,
    logger,
    // Until started (it listens while waiting for Redis, to answer /readyz) and from close() on.
    closing: () => closing !== undefined || !isReady,
    sequencer,
    recovery,
    queueWaiting: () => producer.waiting(),
    stateChanged: (socket) => clientStates.changed(socket.id),
    users,
  });
  // What app-nodes see of the socket changed: its next batch carries it, its recovery session keeps it.
  const dataChanged = (socket: Socket) => {
    clientStates.changed(socket.id);
    const session = recovery.sessionOf(socket);
    if (session) sessions.changed(session);
  };
  const sessionFollower = (_room: string, socketId: string) => {
    const socket = io.of('/').sockets.get(socketId);
    if (socket) dataChanged(socket);
  };
  const stopFollowing = followMembership(io, [
    roomRouting,
    { joined: sessionFollower, left: sessionFollower },
    { left: presence.left },
    ...(occupancy ? [occupancy] : []),
  ]);
  subscriber.onCommand(
    createCommandApplier(
      io,
      {
        sequencer,
        roomRouting,
        delivery,
        presence,
        dataChanged,
        applied: (cmd) => {
          metrics.commandApplied(cmd);
          // A custom hook may change the socket's data.
          if (cmd.type === 'custom' && cmd.socketId !== undefined) clientStates.changed(cmd.socketId);
        },
        selections: createSelectionCommands(io, {
          describe: (socket) => clients.describe(socket),
          kick: (socket, code, message) => clients.kick(socket, code, message),
          reply: (replyTo, id, result) => subscriber.reply(replyTo, id, result),
          routingFlushed: () => roomRouting.flushed(),
          logger,
        }),
      },
      opts.commandHandlers,
      logger,
    ),
  );
  /** Writes this node's routing and presence again (Redis lost them, or peers purged them). */
  function reassert(): void {
    roomRouting.reassert();
    presence.reassert();
    occupancy?.reassert();
  }
  subscriber.onReset(reassert);
  registry.on('peer-expired', (dead) => {
    sessions
      .expireNode(dead)
      .catch((err: unknown) =>
        logger.warn({ err, dead }, 'starting the recovery window of a dead node failed'),
      );
    void presence.purgeNode(dead);
    void users?.purgeNode(dead);
    void occupancy?.purgeNode(dead);
  });

  return {
    nodeId,
    io,
    get port() {
      return port;
    },
    get url() {
      return url;
    },
    get connections() {
      return io.of('/').sockets.size;
    },
    get presenceEntries() {
      return presence.entries;
    },
    ready: ready.promise,
    get peers() {
      return registry.peers.length;
    },
    on: registry.on,

    async start() {
      if (started) throw new Error('io-node already started');
      started = true;
      try {
        // Listening first: a port in use fails the start before anything is written to Redis, and
        // /readyz says why while Redis does not answer; clients are refused until the node is ready.
        port = await listen(http, opts.port, opts.host);
        url = opts.publicUrl?.replaceAll(PORT_PLACEHOLDER, String(port)) ?? `http://127.0.0.1:${port}`;
        cluster = joinWhenReachable([commandRedis, inboxRedis, routingRedis], {
          target: opts.redis,
          keys,
          prefix: opts.prefix,
          clusterId: opts.clusterId,
          logger,
          signal: starting.signal,
        });
        await cluster.joined;
        // The inbox exists and the node is live (a broadcast target) before any client can connect.
        await subscriber.start();
        await registry.start();
        await presence.start();
        await users?.start();
        await occupancy?.start();
        clients.start();
        logger.info({ port, url, ordering: opts.ordering, parser: opts.parser }, 'io-node listening');
        // Handed out only once it listens: a frontend may send clients as soon as the record has a URL.
        await registry.listen(url);
      } catch (err) {
        ready.reject(err);
        throw err;
      }
      isReady = true;
      ready.resolve();
    },

    close() {
      closing ??= (async () => {
        isReady = false;
        starting.abort(new IoclusterError('NODE_CLOSING', 'the io-node was closed while starting'));
        const steps: CloseStep[] = [
          // First, so no frontend sends a client to a node that is going away; it stays live meanwhile.
          ['leave registry', () => registry.leave()],
          // New connections are refused from here on; the server finishes closing once clients are gone.
          ['stop listening', () => void http.close()],
          ['drain in-flight events', () => drainWithin(sequencer, opts.drainTimeoutMs, logger)],
          ['disconnect clients', () => io.disconnectSockets(true)],
          ['enqueue disconnects', () => sequencer.flushed()],
          // Every client left its rooms: their roster entries go, and the `left` changes are enqueued.
          ['close presence', () => presence.close(CLOSE_REDIS_WAIT_MS)],
          ['close user connections', () => settleWithin(users?.close(), CLOSE_REDIS_WAIT_MS)],
          // Likewise their rooms' counts: the `vacated` changes they cause are enqueued.
          ['close occupancy', () => occupancy?.close(CLOSE_REDIS_WAIT_MS)],
          ['close socket.io', () => io.close()],
          ['close connections', () => http.closeAllConnections()],
          ['close sequencer', () => sequencer.close()],
          ['close client states', () => clientStates.close()],
          ['write sessions', () => settleWithin(sessions.flushed(), CLOSE_REDIS_WAIT_MS)],
          // Every client left its rooms: their counts are written before the node's entries are purged.
          ['write room routing', () => settleWithin(roomRouting.flushed(), CLOSE_REDIS_WAIT_MS)],
          ['close room routing', () => roomRouting.close()],
          ['stop following rooms', () => stopFollowing()],
          ['stop limits', () => clients.close()],
          // Heartbeats stop before the inbox goes with the node's record, so none writes it back.
          ['close registry', () => registry.close()],
          ['close command inbox', () => settleWithin(subscriber.close(), CLOSE_REDIS_WAIT_MS)],
          ['close ingress queue', () => producer.close()],
          ['stop watching client states', () => clientStateStore.close()],
          ['stop the cluster id refresh', () => cluster?.close()],
          [
            'close redis',
            () => Promise.all([closeRedis(commandRedis), closeRedis(inboxRedis), closeRedis(routingRedis)]),
          ],
        ];
        await runCloseSteps(steps, logger, 'io-node');
        logger.info('io-node closed');
      })();
      return closing;
    },
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** Waits for in-flight events at most `drainTimeoutMs`, and says how many it could not wait for. */
async function drainWithin(sequencer: EventSequencer, drainTimeoutMs: number, logger: Logger): Promise<void> {
  await settleWithin(sequencer.idle(), drainTimeoutMs);
  const left = sequencer.pending;
  if (left > 0) {
    logger.warn(
      { events: left, drainTimeoutMs },
      `${left} client events still unanswered after ${drainTimeoutMs} ms of drain; closing without their answers`,
    );
  }
}
