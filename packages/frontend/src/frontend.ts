import { createServer, type Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { createEmitter, type Emitter } from '@iocluster/emitter';
import {
  assertInteger,
  type BalanceStrategy,
  type CloseStep,
  type ClusterMembership,
  checkOptions,
  closeRedis,
  createKeys,
  createPresenceStore,
  createRedis,
  type HistoryOptions,
  type IoNodeRecord,
  ioNodeLiveness,
  joinCluster,
  type Logger,
  listen,
  type PresenceMeta,
  type RedisConnection,
  type RedisTarget,
  type RegistryWatcher,
  readLiveAppNodes,
  runCloseSteps,
  settingDefaults,
  settleWithin,
  silentLogger,
  watchRegistry,
  withDefaults,
} from '@iocluster/shared';
import { Queue } from 'bullmq';
import express, { type Express, type RequestHandler } from 'express';
import { type RedisReply, RedisStore } from 'rate-limit-redis';
import { createAdminRouter } from './admin-router.js';
import { type AdminRoomsSource, readAdminState } from './admin-state.js';
import { createApiRunner } from './api-methods.js';
import { createApiV1Router } from './api-v1-router.js';
import { createApiRouter } from './http-api.js';
import { createIngressReader, type IngressReader } from './ingress-view.js';
import { createFrontendMetrics } from './metrics.js';
import { createNodePicker } from './node-picker.js';
import { createNodeReachability } from './node-reachability.js';
import { createScrapeTargetsRouter } from './scrape-targets.js';
import { createSocketPathRefusal } from './socket-path-refusal.js';
import { createSocketProxy, type SocketProxy } from './socket-proxy.js';

export interface FrontendOptions {
  /** Redis URL or target (Sentinel, Cluster). */
  redis: RedisTarget | string;
  /** Prefix of every Redis key and channel. @defaultValue 'iocluster' */
  prefix?: string;
  /**
   * `CLUSTER_ID`: the id every node of this stack shares; a prefix used by another stack refuses the
   * frontend (it would list that stack's io-nodes). @defaultValue none: it joins the recorded stack
   */
  clusterId?: string;
  /**
   * BullMQ queues the ingress is split into (`INGRESS_PARTITIONS`); every io-node, app-node and frontend
   * of a deployment must use the same count. @defaultValue 1
   */
  ingressPartitions?: number;
  /**
   * How client events reach app-nodes (`INGRESS_TRANSPORT`): `streams`, a Redis Stream per partition read
   * by every app-node in one consumer group; `bullmq`, a BullMQ queue per partition. Every io-node,
   * app-node and frontend of a deployment must agree. @defaultValue 'streams'
   */
  ingressTransport?: 'streams' | 'bullmq';
  /** Interface to listen on. @defaultValue '0.0.0.0' */
  host?: string;
  /** Port to listen on; 0 picks a free one. @defaultValue 3000 */
  port?: number;
  /** Strategy of `/api/connect` (and of the proxy) when the request names none. @defaultValue 'fewest-connections' */
  strategy?: BalanceStrategy;
  /**
   * Forward Socket.IO traffic under `proxyPath` to io-nodes (WebSocket and long-polling), so that a plain
   * Socket.IO client connects to the frontend's own address. When off, requests there are answered 404
   * with what to do instead (ask `/api/connect` for an io-node). @defaultValue true
   */
  proxy?: boolean;
  /** Socket.IO path forwarded in proxy mode; starts and ends with `/`. @defaultValue '/socket.io/' */
  proxyPath?: string;
  /** Directory of static pages served at `/`. @defaultValue none */
  staticDir?: string;
  /**
   * How often the registry is re-read: every request is answered from memory, so a burst of
   * `/api/connect` costs Redis nothing. Join/leave announcements trigger an immediate read too.
   * @defaultValue 500
   */
  registryRefreshMs?: number;
  /** With no successful registry read for this long, the node list counts as unknown (503). @defaultValue 10000 */
  registryStaleMs?: number;
  /** `/readyz` reports Redis unreachable when a PING takes longer. @defaultValue 1000 */
  readyTimeoutMs?: number;
  /** A proxied polling session with no request for this long is forgotten. @defaultValue 120000 */
  sessionIdleMs?: number;
  /**
   * Enables the admin view at `/admin`, which asks for this token (cookie or `Authorization: Bearer`).
   * @defaultValue none: no admin view (404)
   */
  adminToken?: string;
  /**
   * Feeds the admin view's rooms panel. @defaultValue the cluster's presence rosters: up to 200 rooms
   * with members, sampled from every io-node's index, with up to 20 members each, named by
   * `adminMemberName`
   */
  adminRooms?: AdminRoomsSource;
  /**
   * How the default rooms panel names a member, from its presence id and the meta it joined with.
   * @defaultValue the meta's `name`, `nick` or `nickname` (the first that is a non-empty string), else the id
   */
  adminMemberName?: (member: { id: string; meta: PresenceMeta }) => string;
  /**
   * Turns on the server API at `/api/v1` (docs/http-api.md): requests must send
   * `Authorization: Bearer <apiKey>`. @defaultValue none: no server API (404 `API_DISABLED`)
   */
  apiKey?: string;
  /** Requests one client address may make to `/api/v1` per `apiRateWindowMs`. @defaultValue 600 */
  apiRateLimit?: number;
  /** The window `apiRateLimit` counts in (ms). @defaultValue 60000 */
  apiRateWindowMs?: number;
  /**
   * How long a publish's idempotency key is remembered (ms): the same key again within it delivers
   * nothing and gets the first answer. @defaultValue 300000
   */
  apiIdempotencyWindowMs?: number;
  /**
   * Rooms that keep history, as the app-nodes keep them (`HISTORY_*`): what the server API and the admin
   * view publish there is recorded, and clients recover it. @defaultValue none
   */
  history?: HistoryOptions;
  /** @defaultValue a silent logger */
  logger?: Logger;
}

/** The express frontend: static pages, the live io-node list, a load-balancing pick, optionally a proxy. */
export interface Frontend {
  /** The express app (add routes before `start()`). */
  readonly app: Express;
  readonly server: HttpServer;
  /** Port actually listened on (after `start()`). */
  readonly port: number;
  /** `http://127.0.0.1:<port>` (after `start()`). */
  readonly url: string;
  /** Live io-nodes as of the last registry read. */
  readonly nodes: readonly IoNodeRecord[];
  /** Reads the registry once, then listens. */
  start(): Promise<void>;
  /** Stops listening, closes proxied sockets and Redis connections. Idempotent. */
  close(): Promise<void>;
}

/** A member's name as presence meta usually carries it (`name`, `nick` or `nickname`), else its id. */
function presenceName({ id, meta }: { id: string; meta: PresenceMeta }): string {
  for (const field of ['name', 'nick', 'nickname']) {
    const value = meta[field];
    if (typeof value === 'string' && value.trim() !== '') return value;
  }
  return id;
}

/** Longest a close step waits on Redis (a read retrying through an outage) before giving up on it. */
const CLOSE_WAIT_MS = 1_000;
/** Rooms, and member ids per room, the admin view's rooms panel lists at most. */
const ADMIN_ROOMS = 200;
const ADMIN_ROOM_MEMBERS = 20;

/**
 * Creates the frontend; nothing listens or connects until `start()`. Throws a TypeError naming the option
 * when one is invalid.
 */
export function createFrontend(options: FrontendOptions): Frontend {
  const opts = withDefaults(
    {
      ...settingDefaults('frontend'),
      registryStaleMs: 10_000,
      readyTimeoutMs: 1_000,
      sessionIdleMs: 120_000,
      adminMemberName: presenceName,
      logger: silentLogger(),
    },
    options,
  );
  // Options with a variable: defaults and bounds from the settings table (docs/configuration.md).
  checkOptions('FrontendOptions', 'frontend', opts);
  for (const name of ['registryStaleMs', 'readyTimeoutMs', 'sessionIdleMs'] as const) {
    assertInteger('FrontendOptions', name, opts[name], 1);
  }
  const keys = createKeys(opts.prefix);
  const logger = opts.logger.child({ component: 'frontend' });
  const picker = createNodePicker();
  const reachability = createNodeReachability({ logger });

  let redis: RedisConnection | undefined;
  let sub: RedisConnection | undefined;
  /** The server API's and the admin actions' way into the cluster (made in start()). */
  let emitter: Emitter | undefined;
  /** `/api/v1`, made in start(): its rate limiter counts in Redis. */
  let apiV1: RequestHandler | undefined;
  const runner = createApiRunner(() => emitter, logger);
  let watcher: RegistryWatcher | undefined;
  let cluster: ClusterMembership | undefined;
  /** Reads the ingress's counts and holds the queues bull-board shows (made in start()). */
  let ingress: IngressReader | undefined;
  /** Shown in bull-board beside them: webhook deliveries (empty unless app-nodes have `WEBHOOK_URL`). */
  let webhookQueue: Queue | undefined;
  let port = 0;
  let started = false;
  let closing: Promise<void> | undefined;

  /** The nodes handed out: listed, and not refusing connections (see `NodeReachability`). */
  function liveNodes(): readonly IoNodeRecord[] | undefined {
    if (!watcher || Date.now() - watcher.refreshedAt > opts.registryStaleMs) return undefined;
    return watcher.nodes.filter((node) => !reachability.unusable(node.nodeId));
  }

  const proxy: SocketProxy | undefined = opts.proxy
    ? createSocketProxy({
        path: opts.proxyPath,
        pick: (avoid) => picker.pick(opts.strategy, liveNodes() ?? [], avoid),
        live: (nodeId) => liveNodes()?.find((n) => n.nodeId === nodeId),
        sessionIdleMs: opts.sessionIdleMs,
        logger: logger.child({ component: 'frontend:proxy' }),
      })
    : undefined;
  const refusal = proxy ? undefined : createSocketPathRefusal(opts.proxyPath, logger);

  const metrics = createFrontendMetrics({
    liveIoNodes: () => liveNodes()?.length ?? 0,
    ingress: async () => {
      if (!ingress) throw new Error('not started');
      return ingress.read();
    },
  });
  const presenceRooms: AdminRoomsSource = {
    async rooms() {
      if (!redis) return [];
      const rooms = await createPresenceStore(redis, keys).rooms(ADMIN_ROOMS, ADMIN_ROOM_MEMBERS);
      return rooms.map(({ room, members, sample }) => ({
        room,
        members,
        users: sample.map(opts.adminMemberName).sort(),
      }));
    },
  };
  const liveAppNodes = () =>
    redis ? readLiveAppNodes(redis, keys, Date.now(), logger) : Promise.resolve([]);
  const admin = opts.adminToken
    ? createAdminRouter({
        token: opts.adminToken,
        actions: runner,
        state: () =>
          readAdminState({
            ioNodes: () => liveNodes() ?? [],
            appNodes: liveAppNodes,
            ingress: metrics.ingress,
            rooms: opts.adminRooms ?? presenceRooms,
          }),
      })
    : undefined;

  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', (_req, res) => void metrics.serve(res));
  if (admin) app.use(admin.router);
  app.use((req, res, next) => (apiV1 ? apiV1(req, res, next) : next()));
  app.use(
    createScrapeTargetsRouter({
      ioNodes: liveNodes,
      appNodes: liveAppNodes,
    }),
  );
  app.use(
    createApiRouter({
      proxy: opts.proxy ? { path: opts.proxyPath } : undefined,
      nodes: liveNodes,
      pick: (strategy) => picker.pick(strategy, liveNodes() ?? []),
      defaultStrategy: opts.strategy,
      redisReachable: async () => {
        if (redis?.status !== 'ready') return false;
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), opts.readyTimeoutMs);
        });
        const ping = redis.ping().then(
          (reply) => reply === 'PONG',
          () => false,
        );
        return Promise.race([ping, timeout]).finally(() => clearTimeout(timer));
      },
    }),
  );
  if (opts.staticDir) app.use(express.static(opts.staticDir));

  const server = createServer((req, res) => {
    if (proxy?.matches(req)) proxy.web(req, res);
    else if (refusal?.matches(req)) refusal.web(req, res);
    else app(req, res);
  });
  server.on('upgrade', (req, socket: Socket, head: Buffer) => {
    if (proxy?.matches(req)) proxy.upgrade(req, socket, head);
    else if (refusal?.matches(req)) refusal.upgrade(req, socket);
    else socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
  });

  return {
    app,
    server,
    get port() {
      return port;
    },
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get nodes() {
      return watcher?.nodes ?? [];
    },

    async start() {
      if (started) throw new Error('frontend already started');
      started = true;
      // Listening first: a port in use fails the start before anything is written to Redis (BullMQ's
      // Queue records its options in the queue's meta key as it is made).
      port = await listen(server, opts.port, opts.host);
      redis = createRedis(opts.redis, 'command', { logger, connectionName: 'frontend:cmd' });
      sub = createRedis(opts.redis, 'subscriber', { logger, connectionName: 'frontend:sub' });
      metrics.watchRedis(redis, 'command');
      metrics.watchRedis(sub, 'subscriber');
      const commandRedis = redis;
      emitter = createEmitter({
        redis: opts.redis,
        prefix: opts.prefix,
        history: opts.history,
        idempotencyWindowMs: opts.apiIdempotencyWindowMs,
        inboxRetentionMs: opts.inboxRetentionMs,
        replicaWait: opts.replicaWait,
        logger,
      });
      apiV1 = createApiV1Router({
        apiKey: opts.apiKey,
        runner,
        rateLimit: opts.apiRateLimit,
        rateWindowMs: opts.apiRateWindowMs,
        rateStore: opts.apiKey
          ? new RedisStore({
              sendCommand: (...args: string[]) =>
                commandRedis.call(args[0]!, ...args.slice(1)) as Promise<RedisReply>,
              prefix: keys.rateLimitPrefix,
            })
          : undefined,
      });
      // Reads counts (metrics, admin) and serves bull-board's actions on the shared command connection.
      const connection = redis;
      // Streams: bull-board shows the dead letters (failed events, retryable); BullMQ: the ingress queues.
      ingress = createIngressReader({
        transport: opts.ingressTransport,
        keys,
        partitions: opts.ingressPartitions,
        connection,
      });
      for (const queue of ingress.queues) {
        // Connection errors are logged once by createRedis; BullMQ re-emits each of them here.
        queue.on('error', (err) => logger.debug({ err }, 'queue reader error'));
        admin?.setQueue(queue);
      }
      if (admin) {
        webhookQueue = new Queue(keys.webhookQueue, { connection, prefix: keys.bullPrefix });
        webhookQueue.on('error', (err) => logger.debug({ err }, 'queue reader error'));
        admin.setQueue(webhookQueue);
      }
      cluster = await joinCluster(redis, keys, { clusterId: opts.clusterId, prefix: opts.prefix, logger });
      watcher = watchRegistry({
        redis,
        subscriber: sub,
        kind: ioNodeLiveness(keys),
        intervalMs: opts.registryRefreshMs,
        logger,
      });
      watcher.on('peer-joined', (node) =>
        logger.info({ nodeId: node.nodeId, url: node.url }, 'io-node joined'),
      );
      watcher.on('refresh', (nodes) => reachability.update(nodes));
      watcher.on('peer-left', (node) => {
        logger.info({ nodeId: node.nodeId, url: node.url }, 'io-node left');
        picker.forget(node.nodeId);
        proxy?.nodeLeft(node.nodeId);
      });
      await watcher.start();
      logger.info(
        { port, strategy: opts.strategy, proxy: opts.proxy, ioNodes: watcher.nodes.length },
        'frontend listening',
      );
    },

    close() {
      closing ??= (async () => {
        const steps: CloseStep[] = [
          ['stop listening', () => void server.close()],
          ['close proxied sockets', () => proxy?.close()],
          ['close connections', () => server.closeAllConnections()],
          ['stop the cluster id refresh', () => cluster?.close()],
          ['close the emitter', () => emitter && settleWithin(emitter.close(), CLOSE_WAIT_MS)],
          ['stop watching the registry', () => watcher && settleWithin(watcher.close(), CLOSE_WAIT_MS)],
          ['stop watching io-nodes', () => reachability.close()],
          [
            'close queue readers',
            () =>
              settleWithin(
                Promise.all([ingress?.close() ?? Promise.resolve(), webhookQueue?.close()]),
                CLOSE_WAIT_MS,
              ),
          ],
          [
            'close redis',
            () => Promise.all([closeRedis(redis, CLOSE_WAIT_MS), closeRedis(sub, CLOSE_WAIT_MS)]),
          ],
        ];
        await runCloseSteps(steps, logger, 'frontend');
        logger.info('frontend closed');
      })();
      return closing;
    },
  };
}
