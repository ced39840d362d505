import { createServer, type Server as HttpServer, type ServerResponse } from 'node:http';
import {
  type CloseStep,
  type ClusterMembership,
  closeRedis,
  createKeys,
  createListeners,
  createPresenceStore,
  createRedis,
  createRoomHistory,
  createRoutingTable,
  deferred,
  IoclusterError,
  joinCluster,
  listen,
  PORT_PLACEHOLDER,
  type RedisConnection,
  type RedisWait,
  runCloseSteps,
  settleWithin,
  waitForRedis,
} from '@iocluster/shared';
import { Server, type Socket } from 'socket.io';
import { attachClientConnections } from './client-connections.js';
import { createCommandApplier } from './command-applier.js';
import { type CommandSubscriber, createInboxSubscriber } from './command-bus.js';
import { EventSequencer } from './event-sequencer.js';
import { FairWebSocketServer } from './fair-websocket-server.js';
import { createIngressProducer, type IngressProducer } from './ingress-queue.js';
import { type IoNodeOptions, resolveIoNodeOptions } from './io-node-options.js';
import { createIoNodeMetrics } from './metrics.js';
import { createNodeRegistry, type PeerEvents, packageVersion } from './node-registry.js';
import { createPresenceTracker, type PresenceTracker } from './presence-tracker.js';
import { createRecentIds } from './recent-ids.js';
import { type ClientRecovery, createClientRecovery } from './recovery.js';
import { createRoomDelivery } from './room-delivery.js';
import { createRoomRouting, type RoomRouting } from './room-routing.js';
import { createSessionStore, type SessionStore } from './sessions.js';
import { parserOptions } from './socketio-parser.js';

/** Events an io-node raises for embedders: its peers coming and going. */
export interface IoNodeEvents extends PeerEvents {
  /**
   * A peer's heartbeat expired without a goodbye (dead, or cut off from Redis): its presence entries go and
   * its clients' recovery window starts. Each live node that sees it raises it.
   */
  'peer-expired': (nodeId: string) => void;
  /**
   * This node purged a peer that stayed expired past the inbox retention: its inbox and routing entries
   * are gone. Exactly one live node raises it per peer, whoever claimed it first.
   */
  'peer-purged': (nodeId: string) => void;
}

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
  /** Live io-nodes other than this one, as of the last registry read (every `heartbeatIntervalMs` / 2). */
  readonly peers: number;
  /**
   * `peer-joined` / `peer-left` with the peer's registry record; a crashed peer leaves within its
   * `heartbeatTtlMs` plus half this node's `heartbeatIntervalMs`. Returns the unsubscribe function.
   */
  on<E extends keyof IoNodeEvents>(event: E, listener: IoNodeEvents[E]): () => void;
  /** Listens, then registers; see `ready`. */
  start(): Promise<void>;
  /**
   * Leaves the registry at once, then drains: refuses new clients, lets in-flight events finish,
   * disconnects clients, closes. Idempotent.
   */
  close(): Promise<void>;
}

/** Emit ids (`once`) remembered: far more than a rerun job can repeat in the seconds it takes. */
const ONCE_IDS_REMEMBERED = 10_000;
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

  // Engine.IO takes its own path (/socket.io/) and hands every other request to this handler.
  const http: HttpServer = createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (path === '/metrics') return void metrics.serve(res);
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok', nodeId });
    if (path === '/readyz') {
      const reasons: string[] = [];
      if (!isReady) reasons.push(closing ? 'shutting down' : 'not started');
      const waiting = redisWait?.reason();
      if (waiting) reasons.push(waiting);
      else if (commandRedis?.status !== 'ready' || inboxRedis?.status !== 'ready')
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
    () => presence?.entries ?? 0,
  );
  const registry = createNodeRegistry({
    redis: opts.redis,
    keys,
    nodeId,
    version: opts.version ?? packageVersion(),
    heartbeatIntervalMs: opts.heartbeatIntervalMs,
    heartbeatTtlMs: opts.heartbeatTtlMs,
    logger,
  });
  const events = createListeners<Pick<IoNodeEvents, 'peer-expired' | 'peer-purged'>>(logger);
  // Awaiting `ready` is optional; start() reports a failure to its own caller.
  const ready = deferred();

  let commandRedis: RedisConnection | undefined;
  let inboxRedis: RedisConnection | undefined;
  let routingRedis: RedisConnection | undefined;
  let redisWait: RedisWait | undefined;
  let cluster: ClusterMembership | undefined;
  // Ends a start still waiting for Redis when the node is closed meanwhile.
  const starting = new AbortController();
  let producer: IngressProducer | undefined;
  let subscriber: CommandSubscriber | undefined;
  let roomRouting: RoomRouting | undefined;
  let sessions: SessionStore | undefined;
  let recovery: ClientRecovery | undefined;
  let presence: PresenceTracker | undefined;
  let sequencer: EventSequencer | undefined;
  let port = 0;
  let url = '';
  let closing: Promise<void> | undefined;
  let isReady = false;
  let started = false;

  const clients = attachClientConnections(io, {
    nodeId,
    options: opts,
    metrics,
    logger,
    // Until started (it listens while waiting for Redis, to answer /readyz) and from close() on.
    closing: () => closing !== undefined || !isReady,
    sequencer: () => sequencer!,
    recovery: () => recovery,
    queueWaiting: () => producer?.waiting() ?? Promise.resolve(0),
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
      return presence?.entries ?? 0;
    },
    ready: ready.promise,
    get peers() {
      return registry.peers.length;
    },
    on(event, listener) {
      if (event === 'peer-purged' || event === 'peer-expired') {
        return events.on(event, listener as IoNodeEvents['peer-purged']);
      }
      return registry.on(event, listener as PeerEvents['peer-joined']);
    },

    async start() {
      if (started) throw new Error('io-node already started');
      started = true;
      try {
        commandRedis = createRedis(opts.redis, 'command', { logger, connectionName: `${nodeId}:cmd` });
        inboxRedis = createRedis(opts.redis, 'blocking', { logger, connectionName: `${nodeId}:inbox` });
        routingRedis = createRedis(opts.redis, 'publisher', { logger, connectionName: `${nodeId}:routing` });
        metrics.watchRedis(commandRedis, 'command');
        metrics.watchRedis(inboxRedis, 'inbox');
        metrics.watchRedis(routingRedis, 'routing');
        redisWait = waitForRedis([commandRedis, inboxRedis, routingRedis], {
          target: opts.redis,
          logger,
          signal: starting.signal,
        });
        // Listening first, so that /readyz says why while Redis does not answer; clients are refused
        // until the node is ready.
        port = await listen(http, opts.port, opts.host);
        url = opts.publicUrl?.replaceAll(PORT_PLACEHOLDER, String(port)) ?? `http://127.0.0.1:${port}`;
        await redisWait.ready;
        cluster = await joinCluster(commandRedis, keys, {
          clusterId: opts.clusterId,
          prefix: opts.prefix,
          logger,
        });
        const routing = createRoutingTable(routingRedis, keys);
        producer = createIngressProducer(commandRedis, keys, logger, {
          partitions: opts.ingressPartitions,
          afterReconnect: () => subscriber?.ensureInbox() ?? Promise.resolve(),
          replicaWait: opts.replicaWait,
        });
        sequencer = new EventSequencer({
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
        });
        roomRouting = createRoomRouting(io, nodeId, routing, logger);
        roomRouting.start();
        const history = createRoomHistory(routingRedis, keys);
        const delivery = createRoomDelivery(io, history, logger);
        const store = createSessionStore(routingRedis, keys, nodeId, opts.recoveryWindowMs, logger);
        sessions = store;
        const rooms = roomRouting;
        recovery = createClientRecovery({
          sessions: store,
          history,
          delivery,
          nodeId,
          routingFlushed: () => rooms.flushed(),
          presenceOf: (socket) => presence?.snapshot(socket.id),
          restorePresence: (socket, entries) => presence?.restore(socket, entries),
          logger,
        });
        const rec = recovery;
        const dataChanged = (socket: Socket) => {
          const session = rec.sessionOf(socket);
          if (session) store.changed(session);
        };
        io.of('/').adapter.on('join-room', (_room: string, id: string) => {
          const socket = io.of('/').sockets.get(id);
          if (socket) dataChanged(socket);
        });
        io.of('/').adapter.on('leave-room', (_room: string, id: string) => {
          const socket = io.of('/').sockets.get(id);
          if (socket) dataChanged(socket);
        });
        subscriber = createInboxSubscriber({
          nodeId,
          keys,
          routing,
          reader: inboxRedis,
          commands: routingRedis,
          heartbeatIntervalMs: opts.heartbeatIntervalMs,
          heartbeatTtlMs: opts.heartbeatTtlMs,
          retentionMs: opts.inboxRetentionMs,
          logger,
          onExpired: (dead) => {
            store
              .expireNode(dead)
              .catch((err: unknown) =>
                logger.warn({ err, dead }, 'starting the recovery window of a dead node failed'),
              );
            events.emit('peer-expired', dead);
          },
          onPurged: (dead) => events.emit('peer-purged', dead),
        });
        presence = createPresenceTracker({
          io,
          nodeId,
          store: createPresenceStore(routingRedis, keys),
          userOf: clients.userOf,
          anonymousIdOf: (socket) => recovery?.originOf(socket) ?? socket.id,
          liveNodes: () => routing.liveNodes(),
          enqueue: (jobs) => producer!.add(jobs),
          sweepIntervalMs: opts.heartbeatIntervalMs,
          logger,
        });
        events.on('peer-expired', (dead) => void presence?.purgeNode(dead));
        const apply = metrics.countCommands(
          createCommandApplier(
            io,
            { sequencer, roomRouting, delivery, dataChanged },
            opts.commandHandlers,
            logger,
          ),
        );
        const onceIds = createRecentIds(ONCE_IDS_REMEMBERED);
        subscriber.onCommand((cmd) => {
          if (cmd.type === 'emit' && cmd.once !== undefined && !onceIds.first(cmd.once)) return;
          return apply(cmd);
        });
        // After the applier: a join's presence entry is written once Socket.IO holds the membership.
        subscriber.onCommand((cmd) => {
          presence?.onCommand(cmd);
          if (cmd.type === 'join' && cmd.presence) {
            const socket = io.of('/').sockets.get(cmd.socketId);
            if (socket) dataChanged(socket);
          }
        });
        subscriber.onReset(() => {
          roomRouting?.reassert();
          presence?.reassert();
        });
        // The inbox exists and the node is a broadcast target before any client can connect.
        await subscriber.start();
        await presence.start();
        clients.start();
        logger.info({ port, url, ordering: opts.ordering, parser: opts.parser }, 'io-node listening');
        // Registered only once it listens: a frontend may send clients as soon as the record appears.
        await registry.start({ url, io, eventsPerSecond: metrics.eventsPerSecond });
      } catch (err) {
        ready.reject(err);
        throw err;
      }
      isReady = true;
      ready.resolve();
    },

    close() {
      /** Waits for in-flight events at most `drainTimeoutMs`, and says how many it could not wait for. */
      const drain = async () => {
        await settleWithin(sequencer?.idle(), opts.drainTimeoutMs);
        const left = sequencer?.pending ?? 0;
        if (left > 0) {
          logger.warn(
            { events: left, drainTimeoutMs: opts.drainTimeoutMs },
            `${left} client events still unanswered after ${opts.drainTimeoutMs} ms of drain; closing without their answers`,
          );
        }
      };
      closing ??= (async () => {
        isReady = false;
        starting.abort(new IoclusterError('NODE_CLOSING', 'the io-node was closed while starting'));
        const steps: CloseStep[] = [
          // First, so no frontend sends a client to a node that is going away.
          ['leave registry', () => registry.close()],
          // New connections are refused from here on; the server finishes closing once clients are gone.
          ['stop listening', () => void http.close()],
          ['drain in-flight events', () => drain()],
          ['disconnect clients', () => io.disconnectSockets(true)],
          ['enqueue disconnects', () => sequencer?.flushed()],
          // Every client left its rooms: their roster entries go, and the `left` changes are enqueued.
          ['close presence', () => presence?.close(CLOSE_REDIS_WAIT_MS)],
          ['close socket.io', () => io.close()],
          ['close connections', () => http.closeAllConnections()],
          ['close sequencer', () => sequencer?.close()],
          ['write sessions', () => settleWithin(sessions?.flushed(), CLOSE_REDIS_WAIT_MS)],
          // Every client left its rooms: their counts are written before the node's entries are purged.
          ['write room routing', () => settleWithin(roomRouting?.flushed(), CLOSE_REDIS_WAIT_MS)],
          ['close room routing', () => roomRouting?.close()],
          ['stop limits', () => clients.close()],
          ['close command inbox', () => settleWithin(subscriber?.close(), CLOSE_REDIS_WAIT_MS)],
          ['close ingress queue', () => producer?.close()],
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
