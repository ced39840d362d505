import { createServer, type Server as HttpServer, type ServerResponse } from 'node:http';
import {
  assertInteger,
  assertPort,
  type ClientInfo,
  type CloseStep,
  closeRedis,
  createKeys,
  createListeners,
  createPresenceStore,
  createRedis,
  createRoomHistory,
  createRoutingTable,
  deferred,
  encodeBinary,
  hasBinary,
  IoclusterError,
  type Logger,
  listen,
  PORT_PLACEHOLDER,
  RESERVED_EVENTS,
  type RedisConnection,
  type RedisTarget,
  runCloseSteps,
  type SocketIoParser,
  settleWithin,
  silentLogger,
  withDefaults,
} from '@iocluster/shared';
import { Server, type ServerOptions, type Socket } from 'socket.io';
import { type CustomCommandHandler, createCommandApplier } from './command-applier.js';
import { type CommandSubscriber, createInboxSubscriber } from './command-bus.js';
import { type AckFn, EventSequencer } from './event-sequencer.js';
import { createIngressProducer, type IngressProducer } from './ingress-queue.js';
import { createIoNodeMetrics } from './metrics.js';
import { createNodeRegistry, type PeerEvents, packageVersion } from './node-registry.js';
import { createPresenceTracker, type PresenceTracker } from './presence-tracker.js';
import { createRecentIds } from './recent-ids.js';
import { type ClientRecovery, createClientRecovery, IDENTIFIED_EVENT } from './recovery.js';
import { createRoomDelivery, INTERNAL_ROOM_PREFIX } from './room-delivery.js';
import { createRoomRouting, type RoomRouting } from './room-routing.js';
import { createSessionStore, type SessionStore } from './sessions.js';
import { parserOptions } from './socketio-parser.js';

/** What the `authenticate` hook sees of a connecting client. */
export type Handshake = Socket['handshake'];

export interface IoNodeOptions {
  /** Redis URL or target (Sentinel, Cluster). */
  redis: RedisTarget | string;
  /** Prefix of every Redis key and channel. @defaultValue 'iocluster' */
  prefix?: string;
  /**
   * BullMQ queues the ingress is split into (`INGRESS_PARTITIONS`); every io-node, app-node and frontend
   * of a deployment must use the same count. @defaultValue 1
   */
  ingressPartitions?: number;
  /** Unique id of this node. @defaultValue a random id */
  nodeId?: string;
  /** Interface to listen on. @defaultValue '0.0.0.0' */
  host?: string;
  /** Port to listen on; 0 picks a free one. @defaultValue 3001 */
  port?: number;
  /**
   * URL clients reach this node at (registry, logs); `{port}` in it stands for the port listened on.
   * @defaultValue `http://127.0.0.1:<port>`
   */
  publicUrl?: string;
  /**
   * Socket.IO packet encoding: `msgpack` (socket.io-msgpack-parser) or Socket.IO's own. Clients must use
   * the same. @defaultValue 'default'
   */
  parser?: SocketIoParser;
  /** Origins allowed by CORS, or '*' for any. @defaultValue '*' */
  corsOrigins?: readonly string[] | '*';
  /** Ack answered with a TIMEOUT error when no app-node replied by then. @defaultValue 30000 */
  eventTimeoutMs?: number;
  /** Per-client ordering of handlers and of what they emit. @defaultValue true */
  ordering?: boolean;
  /** Most client events in one queue job. @defaultValue 256 */
  batchMaxEvents?: number;
  /**
   * Jobs of this node in the queue or running, awaiting their replies, before new events wait for one of
   * them to finish and then go out together in the next job (Nagle's algorithm for the queue). Below the
   * cap events leave at once; at it, the per-job cost of the queue is shared by more events. A low cap
   * also couples clients: every client in a job waits for the job's slowest handler. @defaultValue 32
   */
  maxJobsInFlight?: number;
  /** Events waiting for one client beyond this are refused with OVERLOADED. @defaultValue 10000 */
  maxQueuedPerClient?: number;
  /**
   * How long a client of `@iocluster/client` that lost its connection may come back, to any io-node, and
   * get its rooms, data and missed room messages. Match the app-nodes' `recoveryWindowMs`.
   * @defaultValue 120000
   */
  recoveryWindowMs?: number;
  /**
   * Events of all clients waiting on this node — while Redis is unreachable they wait here and go to the
   * queue when it is back — beyond which new ones are refused with OVERLOADED. @defaultValue 100000
   */
  maxPendingEvents?: number;
  /** How long `close()` waits for in-flight events before disconnecting clients. @defaultValue 10000 */
  drainTimeoutMs?: number;
  /**
   * Decides the handshake: return the user (any JSON value; null for anonymous) or throw to refuse the
   * connection (the client gets `connect_error` with the message).
   * @defaultValue every client is accepted as anonymous
   */
  authenticate?: (handshake: Handshake) => unknown | Promise<unknown>;
  /** Hooks for custom command types, by name. @defaultValue none */
  commandHandlers?: Readonly<Record<string, CustomCommandHandler>>;
  /** Extra Socket.IO server options (transports default to websocket and polling). @defaultValue {} */
  socketIo?: Partial<ServerOptions>;
  /** How often the node refreshes its registry record. @defaultValue 2000 */
  heartbeatIntervalMs?: number;
  /**
   * How long the record outlives the last heartbeat: a node that stops heartbeating leaves every reader's
   * view within this plus the reader's poll interval. Must exceed `heartbeatIntervalMs`.
   * @defaultValue 6000
   */
  heartbeatTtlMs?: number;
  /** Version shown in the registry. @defaultValue the io-node package version */
  version?: string;
  /** @defaultValue a silent logger */
  logger?: Logger;
}

/** Events an io-node raises for embedders: its peers coming and going. */
export interface IoNodeEvents extends PeerEvents {
  /**
   * This node purged a dead peer (its heartbeat expired without a goodbye): its inbox and routing entries
   * are gone. Exactly one live node raises it per dead peer, whoever saw the expiry first.
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

const MAX_EVENT_NAME_LENGTH = 256;
/** Emit ids (`once`) remembered: far more than a rerun job can repeat in the seconds it takes. */
const ONCE_IDS_REMEMBERED = 10_000;
/** Longest a close step waits on Redis (it may be the reason we are closing). */
const CLOSE_REDIS_WAIT_MS = 2_000;

interface SocketState {
  user: unknown;
  handshake: ClientInfo['handshake'];
}

export function createIoNode(options: IoNodeOptions): IoNode {
  const opts = withDefaults(
    {
      prefix: 'iocluster',
      ingressPartitions: 1,
      nodeId: `io-${Math.random().toString(36).slice(2, 10)}`,
      host: '0.0.0.0',
      port: 3001,
      corsOrigins: '*' as const,
      parser: 'default' as SocketIoParser,
      eventTimeoutMs: 30_000,
      ordering: true,
      batchMaxEvents: 256,
      maxQueuedPerClient: 10_000,
      maxPendingEvents: 100_000,
      recoveryWindowMs: 120_000,
      maxJobsInFlight: 32,
      drainTimeoutMs: 10_000,
      commandHandlers: {},
      socketIo: {},
      heartbeatIntervalMs: 2_000,
      heartbeatTtlMs: 6_000,
      logger: silentLogger(),
    },
    options,
  );
  assertInteger('IoNodeOptions', 'heartbeatIntervalMs', opts.heartbeatIntervalMs, 1);
  assertInteger('IoNodeOptions', 'heartbeatTtlMs', opts.heartbeatTtlMs, 1);
  if (opts.heartbeatTtlMs <= opts.heartbeatIntervalMs) {
    throw new TypeError(
      `IoNodeOptions.heartbeatTtlMs (${opts.heartbeatTtlMs}) must be larger than heartbeatIntervalMs (${opts.heartbeatIntervalMs})`,
    );
  }
  for (const name of [
    'eventTimeoutMs',
    'batchMaxEvents',
    'maxQueuedPerClient',
    'maxPendingEvents',
    'recoveryWindowMs',
    'maxJobsInFlight',
    'drainTimeoutMs',
  ] as const) {
    assertInteger('IoNodeOptions', name, opts[name], 1);
  }
  assertPort('IoNodeOptions', 'port', opts.port);
  const keys = createKeys(opts.prefix);
  const { nodeId } = opts;
  const logger = opts.logger.child({ component: 'io-node', nodeId });

  // Engine.IO takes its own path (/socket.io/) and hands every other request to this handler.
  const http: HttpServer = createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (path === '/metrics') return void metrics.serve(res);
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok', nodeId });
    if (path === '/readyz') {
      const reasons: string[] = [];
      if (!isReady) reasons.push(closing ? 'shutting down' : 'not started');
      if (commandRedis?.status !== 'ready' || inboxRedis?.status !== 'ready')
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
    ...parserOptions(opts.parser),
    ...opts.socketIo,
  });
  const states = new WeakMap<Socket, SocketState>();
  const metrics = createIoNodeMetrics(() => io.of('/').sockets.size);
  const registry = createNodeRegistry({
    redis: opts.redis,
    keys,
    nodeId,
    version: opts.version ?? packageVersion(),
    heartbeatIntervalMs: opts.heartbeatIntervalMs,
    heartbeatTtlMs: opts.heartbeatTtlMs,
    logger,
  });
  const events = createListeners<Pick<IoNodeEvents, 'peer-purged'>>(logger);
  // Awaiting `ready` is optional; start() reports a failure to its own caller.
  const ready = deferred();

  let commandRedis: RedisConnection | undefined;
  let inboxRedis: RedisConnection | undefined;
  let routingRedis: RedisConnection | undefined;
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

  function describe(socket: Socket): ClientInfo {
    const state = states.get(socket)!;
    const rooms: string[] = [];
    for (const room of socket.rooms) {
      if (room !== socket.id && !room.startsWith(INTERNAL_ROOM_PREFIX)) rooms.push(room);
    }
    const info: ClientInfo = {
      id: socket.id,
      nodeId,
      data: socket.data,
      rooms,
      handshake: state.handshake,
      user: state.user,
    };
    const session = recovery?.sessionOf(socket);
    if (session) info.session = session;
    return info;
  }

  io.use(async (socket, next) => {
    if (closing) return next(new IoclusterError('NODE_CLOSING', 'this io-node is shutting down'));
    try {
      const user = opts.authenticate ? await opts.authenticate(socket.handshake) : null;
      const { handshake } = socket;
      states.set(socket, {
        user: user ?? null,
        handshake: {
          address: handshake.address,
          time: handshake.issued,
          query: { ...handshake.query },
          auth: { ...handshake.auth },
        },
      });
      socket.data = {};
      await recovery?.handshake(socket, user ?? null);
      next();
    } catch (err) {
      logger.info({ err, address: socket.handshake.address }, 'handshake refused');
      next(err instanceof Error ? err : new Error(String(err)));
    }
  });

  io.on('connection', (socket) => {
    const seq = sequencer!;
    const rec = recovery!;
    const recovered = rec.connected(socket);
    seq.open(socket.id, () => describe(socket), recovered);
    metrics.event('connect');
    void rec.replay(socket);
    socket.onAny((rawName: unknown, ...rawArgs: unknown[]) => {
      let name = rawName;
      let args = rawArgs;
      const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as AckFn) : undefined;
      let identity: { eid: string; resent: boolean } | undefined;
      if (name === IDENTIFIED_EVENT) {
        const unwrapped = rec.unwrap(args);
        if (!unwrapped) {
          ack?.({
            error: {
              code: 'INVALID_EVENT',
              message: `${IDENTIFIED_EVENT} takes (eid, resent, event, ...args)`,
            },
          });
          return;
        }
        ({ name, args } = unwrapped);
        identity = unwrapped;
      }
      if (typeof name !== 'string' || name.length === 0 || name.length > MAX_EVENT_NAME_LENGTH) {
        ack?.({
          error: { code: 'INVALID_EVENT', message: 'event name must be a string of 1-256 characters' },
        });
        return;
      }
      if (RESERVED_EVENTS.has(name)) {
        ack?.({ error: { code: 'RESERVED_EVENT', message: `"${name}" is reserved and cannot be emitted` } });
        return;
      }
      const bin = hasBinary(args);
      if (seq.event(socket.id, name, bin ? (encodeBinary(args) as unknown[]) : args, bin, ack, identity)) {
        metrics.event('event');
      }
    });
    socket.on('disconnecting', (reason) => {
      seq.end(socket.id, reason, describe(socket));
      metrics.event('disconnect');
    });
    socket.on('disconnect', (reason) => rec.disconnected(socket, reason));
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
      if (event === 'peer-purged') return events.on(event, listener as IoNodeEvents['peer-purged']);
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
        const routing = createRoutingTable(routingRedis, keys);
        producer = createIngressProducer(commandRedis, keys, logger, {
          partitions: opts.ingressPartitions,
          afterReconnect: () => subscriber?.ensureInbox() ?? Promise.resolve(),
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
          logger,
          onPurged: (dead) => {
            store
              .expireNode(dead)
              .catch((err: unknown) =>
                logger.warn({ err, dead }, 'starting the recovery window of a dead node failed'),
              );
            events.emit('peer-purged', dead);
          },
        });
        presence = createPresenceTracker({
          io,
          nodeId,
          store: createPresenceStore(routingRedis, keys),
          userOf: (socket) => states.get(socket)?.user ?? null,
          liveNodes: () => routing.liveNodes(),
          enqueue: (jobs) => producer!.add(jobs),
          sweepIntervalMs: opts.heartbeatIntervalMs,
          logger,
        });
        events.on('peer-purged', (dead) => void presence?.purgeNode(dead));
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
        subscriber.onCommand((cmd) => presence?.onCommand(cmd));
        subscriber.onReset(() => {
          roomRouting?.reassert();
          presence?.reassert();
        });
        // The inbox exists and the node is a broadcast target before any client can connect.
        await subscriber.start();
        await presence.start();
        port = await listen(http, opts.port, opts.host);
        url = opts.publicUrl?.replaceAll(PORT_PLACEHOLDER, String(port)) ?? `http://127.0.0.1:${port}`;
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
      closing ??= (async () => {
        isReady = false;
        const steps: CloseStep[] = [
          // First, so no frontend sends a client to a node that is going away.
          ['leave registry', () => registry.close()],
          // New connections are refused from here on; the server finishes closing once clients are gone.
          ['stop listening', () => void http.close()],
          ['drain in-flight events', () => settleWithin(sequencer?.idle(), opts.drainTimeoutMs)],
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
          ['close command inbox', () => settleWithin(subscriber?.close(), CLOSE_REDIS_WAIT_MS)],
          ['close ingress queue', () => producer?.close()],
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
