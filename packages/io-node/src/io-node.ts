import { createServer, type Server as HttpServer, type ServerResponse } from 'node:http';
import {
  assertInteger,
  assertPort,
  type ClientInfo,
  type CloseStep,
  closeRedis,
  createKeys,
  createRedis,
  deferred,
  type Logger,
  listen,
  type RedisConnection,
  type RedisTarget,
  runCloseSteps,
  SERVER_ERROR_EVENT,
  settleWithin,
  silentLogger,
  withDefaults,
} from '@iocluster/shared';
import { Server, type ServerOptions, type Socket } from 'socket.io';
import { createAdmission } from './admission.js';
import { attachGateway } from './client-gateway.js';
import { attachClientLimits } from './client-limits.js';
import { type CustomCommandHandler, createCommandApplier } from './command-applier.js';
import { type CommandSubscriber, createRedisCommandSubscriber } from './command-bus.js';
import { EventSequencer } from './event-sequencer.js';
import { type AuthenticateHook, createHandshakeMiddleware } from './handshake.js';
import { createIngressProducer, type IngressProducer } from './ingress-queue.js';
import { createJwtVerifier, type JwtAuthOptions, type VerifiedToken } from './jwt-auth.js';
import { createNodeRegistry, type PeerEvents, packageVersion } from './node-registry.js';
import { createQueueGuard } from './queue-guard.js';
import { createTokenSessions } from './token-sessions.js';

export interface IoNodeOptions {
  /** Redis URL or target (Sentinel, Cluster). */
  redis: RedisTarget | string;
  /** Prefix of every Redis key and channel. @defaultValue 'iocluster' */
  prefix?: string;
  /** Unique id of this node. @defaultValue a random id */
  nodeId?: string;
  /** Interface to listen on. @defaultValue '0.0.0.0' */
  host?: string;
  /** Port to listen on; 0 picks a free one. @defaultValue 3001 */
  port?: number;
  /** URL clients reach this node at (registry, logs). @defaultValue `http://127.0.0.1:<port>` */
  publicUrl?: string;
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
  /** How long `close()` waits for in-flight events before disconnecting clients. @defaultValue 10000 */
  drainTimeoutMs?: number;
  /**
   * Decides the handshake: return the user (any JSON value; null for anonymous) or throw to refuse the
   * connection (the client gets `connect_error` with the message, and `data` when the error has one).
   * With `jwt` set it runs after the token was verified and gets its claims.
   * @defaultValue the token's claims with `jwt`, else every client is accepted as anonymous
   */
  authenticate?: AuthenticateHook;
  /**
   * JWT verification of `auth.token` at the handshake and expiry during the connection; a client without
   * a valid token is refused (UNAUTHORIZED, TOKEN_EXPIRED). The claims become `socket.user`.
   * @defaultValue off
   */
  jwt?: JwtAuthOptions;
  /** Events per second one client may send, sustained (token bucket); 0: no limit. @defaultValue 200 */
  clientEventRate?: number;
  /** Events one client may send at once above the rate. @defaultValue 1000 */
  clientEventBurst?: number;
  /** Refused (RATE_LIMITED) events within 10 s after which the client is disconnected; 0: never. @defaultValue 1000 */
  clientRateDisconnectAfter?: number;
  /**
   * How long a client disconnected for flooding is refused (RATE_LIMITED) when it reconnects: by token
   * subject when it had one, else by address (behind a proxy without tokens that is the proxy's: set 0).
   * @defaultValue 10000
   */
  abuseBanMs?: number;
  /** Largest client event in bytes on the wire, binary attachments included (PAYLOAD_TOO_LARGE). @defaultValue 65536 */
  maxPayloadBytes?: number;
  /** Clients held at once; the next handshake gets SERVER_FULL; 0: no limit. @defaultValue 50000 */
  maxConnections?: number;
  /** New connections per second per remote address (RATE_LIMITED); 0: no limit. @defaultValue 0 */
  connectionsPerSecondPerIp?: number;
  /** Ingress jobs waiting past which new events get OVERLOADED; 0: no bound. @defaultValue 10000 */
  queueMaxWaiting?: number;
  /** How often the queue depth is read for `queueMaxWaiting`. @defaultValue 500 */
  queueCheckIntervalMs?: number;
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
  on<E extends keyof PeerEvents>(event: E, listener: PeerEvents[E]): () => void;
  /** Listens, then registers; see `ready`. */
  start(): Promise<void>;
  /**
   * Leaves the registry at once, then drains: refuses new clients, lets in-flight events finish,
   * disconnects clients, closes. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Bytes an Engine.IO frame may carry beyond `maxPayloadBytes` (event name, packet header): a frame a bit
 * over the limit is still read and refused with PAYLOAD_TOO_LARGE; a far larger one closes the connection.
 */
const FRAME_OVERHEAD_BYTES = 4_096;

interface SocketState {
  user: unknown;
  handshake: ClientInfo['handshake'];
  release: () => void;
  /** The verified handshake token, watched for expiry once connected. */
  token: VerifiedToken | undefined;
  /** Why the node disconnected the client (TOKEN_EXPIRED...): the disconnect reason app-nodes see. */
  kickedFor?: string;
}

export function createIoNode(options: IoNodeOptions): IoNode {
  const opts = withDefaults(
    {
      prefix: 'iocluster',
      nodeId: `io-${Math.random().toString(36).slice(2, 10)}`,
      host: '0.0.0.0',
      port: 3001,
      corsOrigins: '*' as const,
      eventTimeoutMs: 30_000,
      ordering: true,
      batchMaxEvents: 256,
      maxQueuedPerClient: 10_000,
      maxJobsInFlight: 32,
      drainTimeoutMs: 10_000,
      commandHandlers: {},
      socketIo: {},
      heartbeatIntervalMs: 2_000,
      heartbeatTtlMs: 6_000,
      clientEventRate: 200,
      clientEventBurst: 1_000,
      clientRateDisconnectAfter: 1_000,
      abuseBanMs: 10_000,
      maxPayloadBytes: 65_536,
      maxConnections: 50_000,
      connectionsPerSecondPerIp: 0,
      queueMaxWaiting: 10_000,
      queueCheckIntervalMs: 500,
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
    'maxJobsInFlight',
    'drainTimeoutMs',
    'clientEventBurst',
    'maxPayloadBytes',
    'queueCheckIntervalMs',
  ] as const) {
    assertInteger('IoNodeOptions', name, opts[name], 1);
  }
  for (const name of [
    'clientEventRate',
    'clientRateDisconnectAfter',
    'abuseBanMs',
    'maxConnections',
    'connectionsPerSecondPerIp',
    'queueMaxWaiting',
  ] as const) {
    assertInteger('IoNodeOptions', name, opts[name], 0);
  }
  assertPort('IoNodeOptions', 'port', opts.port);
  const keys = createKeys(opts.prefix);
  const { nodeId } = opts;
  const logger = opts.logger.child({ component: 'io-node', nodeId });

  // Engine.IO takes its own path (/socket.io/) and hands every other request to this handler.
  const http: HttpServer = createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok', nodeId });
    if (path === '/readyz') {
      const reasons: string[] = [];
      if (!isReady) reasons.push(closing ? 'shutting down' : 'not started');
      if (commandRedis?.status !== 'ready' || subRedis?.status !== 'ready') reasons.push('redis unreachable');
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
    ...opts.socketIo,
  });
  const states = new WeakMap<Socket, SocketState>();
  const admission = createAdmission(opts);
  const verifier = opts.jwt ? createJwtVerifier(opts.jwt) : undefined;
  const tokens = verifier
    ? createTokenSessions({
        verifier,
        expiryNoticeMs: opts.jwt?.expiryNoticeMs ?? 30_000,
        logger,
        onRefreshed: (socket, claims) => {
          const state = states.get(socket);
          if (state && !opts.authenticate) state.user = claims;
        },
        onExpired: (socket) => kick(socket, 'TOKEN_EXPIRED', 'token expired and was not refreshed'),
      })
    : undefined;
  const queueGuard = createQueueGuard({
    waiting: () => producer?.waiting() ?? Promise.resolve(0),
    maxWaiting: opts.queueMaxWaiting,
    intervalMs: opts.queueCheckIntervalMs,
    logger,
  });
  const registry = createNodeRegistry({
    redis: opts.redis,
    keys,
    nodeId,
    version: opts.version ?? packageVersion(),
    heartbeatIntervalMs: opts.heartbeatIntervalMs,
    heartbeatTtlMs: opts.heartbeatTtlMs,
    logger,
  });
  // Awaiting `ready` is optional; start() reports a failure to its own caller.
  const ready = deferred();

  let commandRedis: RedisConnection | undefined;
  let subRedis: RedisConnection | undefined;
  let producer: IngressProducer | undefined;
  let subscriber: CommandSubscriber | undefined;
  let sequencer: EventSequencer | undefined;
  let port = 0;
  let url = '';
  let closing: Promise<void> | undefined;
  let isReady = false;
  let started = false;

  function describe(socket: Socket): ClientInfo {
    const state = states.get(socket)!;
    const rooms: string[] = [];
    for (const room of socket.rooms) if (room !== socket.id) rooms.push(room);
    return { id: socket.id, nodeId, data: socket.data, rooms, handshake: state.handshake, user: state.user };
  }

  /** Tells the client why (`$error`), then disconnects it; app-nodes see `code` as the reason. */
  function kick(socket: Socket, code: string, message: string): void {
    const state = states.get(socket);
    if (state) state.kickedFor = code;
    socket.emit(SERVER_ERROR_EVENT, { code, message });
    socket.disconnect(true);
  }

  io.use(
    createHandshakeMiddleware(
      { admission, verifier, authenticate: opts.authenticate, closing: () => closing !== undefined, logger },
      (socket, client) => {
        states.set(socket, {
          user: client.user,
          handshake: client.handshake,
          release: client.release,
          token: client.token,
        });
        socket.data = {};
      },
    ),
  );

  io.on('connection', (socket) => {
    const seq = sequencer!;
    seq.open(socket.id, () => describe(socket));
    const guard = attachClientLimits(socket, {
      eventRate: opts.clientEventRate,
      eventBurst: opts.clientEventBurst,
      disconnectAfter: opts.clientRateDisconnectAfter,
      maxPayloadBytes: opts.maxPayloadBytes,
      onAbuse: (abuser) => {
        const subject = states.get(abuser)?.token?.claims.sub;
        const { address } = abuser.handshake;
        logger.warn({ socketId: abuser.id, address, subject }, 'client kept flooding; disconnected');
        // Coming straight back must not buy a fresh burst.
        admission.ban(subject !== undefined ? `sub:${subject}` : `ip:${address}`);
        kick(abuser, 'RATE_LIMITED', 'too many events refused for rate; disconnected');
      },
    });
    attachGateway(socket, { sequencer: seq, guard, queue: queueGuard, tokens });
    const token = states.get(socket)?.token;
    if (token) tokens?.track(socket, token);
    socket.on('disconnecting', (reason) => {
      const state = states.get(socket);
      state?.release();
      tokens?.untrack(socket);
      seq.end(socket.id, state?.kickedFor ?? reason, describe(socket));
    });
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
    ready: ready.promise,
    get peers() {
      return registry.peers.length;
    },
    on: (event, listener) => registry.on(event, listener),

    async start() {
      if (started) throw new Error('io-node already started');
      started = true;
      try {
        commandRedis = createRedis(opts.redis, 'command', { logger, connectionName: `${nodeId}:cmd` });
        subRedis = createRedis(opts.redis, 'subscriber', { logger, connectionName: `${nodeId}:sub` });
        producer = createIngressProducer(commandRedis, keys, logger);
        sequencer = new EventSequencer({
          nodeId,
          producer,
          logger,
          ordering: opts.ordering,
          batchMaxEvents: opts.batchMaxEvents,
          eventTimeoutMs: opts.eventTimeoutMs,
          maxQueuedPerClient: opts.maxQueuedPerClient,
          maxJobsInFlight: opts.maxJobsInFlight,
        });
        subscriber = createRedisCommandSubscriber(
          subRedis,
          [keys.nodeChannel(nodeId), keys.broadcastChannel],
          logger,
        );
        subscriber.onCommand(createCommandApplier(io, sequencer, opts.commandHandlers, logger));
        const seq = sequencer;
        subscriber.onSubscribed((subscribed) => seq.setPaused(!subscribed));
        // Subscribed before listening: no client can send an event whose reply we would miss.
        await subscriber.start();
        queueGuard.start();
        port = await listen(http, opts.port, opts.host);
        url = opts.publicUrl ?? `http://127.0.0.1:${port}`;
        logger.info({ port, url, ordering: opts.ordering }, 'io-node listening');
        // Registered only once it listens: a frontend may send clients as soon as the record appears.
        await registry.start({ url, io });
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
          ['close socket.io', () => io.close()],
          ['close connections', () => http.closeAllConnections()],
          ['close sequencer', () => sequencer?.close()],
          ['stop limits', () => [admission.close(), queueGuard.close(), tokens?.close()]],
          ['close command subscriber', () => subscriber?.close()],
          ['close ingress queue', () => producer?.close()],
          ['close redis', () => Promise.all([closeRedis(commandRedis), closeRedis(subRedis)])],
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
