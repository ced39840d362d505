import { randomBytes } from 'node:crypto';
import {
  assertInteger,
  type CloseStep,
  closeRedis,
  createKeys,
  createRedis,
  decodeIngressJob,
  type IngressJob,
  type Logger,
  RESERVED_PREFIX,
  type RedisConnection,
  type RedisTarget,
  runCloseSteps,
  silentLogger,
  WireError,
  withDefaults,
} from '@iocluster/shared';
import { UnrecoverableError, Worker } from 'bullmq';
import type { AppSocket } from './app-socket.js';
import { BroadcastOperator } from './broadcast.js';
import {
  type ChannelDefaults,
  createChannels,
  type PublishAuthorizer,
  type SubscribeAuthorizer,
} from './channels.js';
import { type CommandPublisher, createCommandPublisher } from './command-publisher.js';
import { type EventHandler, type EventMiddleware, JobProcessor } from './job-processor.js';
import { MessageBuilder } from './message-builder.js';
import { SeenClients } from './seen-clients.js';

export interface AppNodeOptions {
  /** Redis URL or target (Sentinel, Cluster). */
  redis: RedisTarget | string;
  /** Prefix of every Redis key and channel; must match the io-nodes'. @defaultValue 'iocluster' */
  prefix?: string;
  /** Id in logs. @defaultValue a random id */
  nodeId?: string;
  /** Ingress jobs run at once by this app-node. @defaultValue 16 */
  concurrency?: number;
  /**
   * BullMQ lock on a running job, renewed every half of it. When an app-node dies, its jobs go back to
   * the queue once the lock expires and a worker's stalled check sees it: within
   * `lockDurationMs + stalledIntervalMs`. @defaultValue 5000
   */
  lockDurationMs?: number;
  /** How often workers look for jobs whose lock expired. @defaultValue 2500 */
  stalledIntervalMs?: number;
  /** Times a job may lose its worker before it is failed (and kept). @defaultValue 3 */
  maxStalledCount?: number;
  /**
   * A handler whose promise is still pending after this is answered with a TIMEOUT error and its
   * client's next event runs; keep it below the io-nodes' `eventTimeoutMs`. @defaultValue 25000
   */
  handlerTimeoutMs?: number;
  /**
   * Client channels with no authorizer registered: subscribing allowed, publishing refused (FORBIDDEN).
   * @defaultValue { subscribe: 'allow', publish: 'deny' }
   */
  channels?: ChannelDefaults;
  /** Clients remembered for `no-client` detection. @defaultValue 100000 */
  seenClientsCapacity?: number;
  /** @defaultValue a silent logger */
  logger?: Logger;
}

/** Lifecycle events an app-node raises besides client events. */
export interface LifecycleHandlers {
  /** A client connected (to any io-node). */
  connection: (socket: AppSocket) => unknown;
  /** This app-node meets a client whose `connection` it did not run: restore application context. */
  'no-client': (socket: AppSocket) => unknown;
  /** A client disconnected; `reason` is Socket.IO's. */
  disconnect: (socket: AppSocket, reason: string) => unknown;
}

/** The application side of iocluster: handlers for client events, run by BullMQ workers. */
export interface AppNode {
  readonly nodeId: string;
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
   * Sends a custom command, handled on io-nodes by the hook registered under `name`: to the io-node
   * holding `target.socketId` when given, else to every io-node.
   */
  command(name: string, payload: unknown, target?: { socketId: string; nodeId: string }): void;
  /** Resolves once every command sent so far is in Redis. */
  flush(): Promise<void>;
  start(): Promise<void>;
  /** Finishes running jobs, then closes. Idempotent. */
  close(): Promise<void>;
}

export function createAppNode(options: AppNodeOptions): AppNode {
  const opts = withDefaults(
    {
      prefix: 'iocluster',
      nodeId: `app-${randomBytes(4).toString('hex')}`,
      concurrency: 16,
      lockDurationMs: 5_000,
      stalledIntervalMs: 2_500,
      maxStalledCount: 3,
      seenClientsCapacity: 100_000,
      handlerTimeoutMs: 25_000,
      logger: silentLogger(),
    },
    options,
  );
  for (const name of [
    'concurrency',
    'lockDurationMs',
    'stalledIntervalMs',
    'seenClientsCapacity',
    'handlerTimeoutMs',
  ] as const) {
    assertInteger('AppNodeOptions', name, opts[name], 1);
  }
  assertInteger('AppNodeOptions', 'maxStalledCount', opts.maxStalledCount, 0);
  const keys = createKeys(opts.prefix);
  const { nodeId } = opts;
  const logger = opts.logger.child({ component: 'app-node', nodeId });
  const handlers = new Map<string, EventHandler>();
  const middleware: EventMiddleware[] = [];

  const publisherRedis: RedisConnection = createRedis(opts.redis, 'publisher', {
    logger,
    connectionName: `${nodeId}:pub`,
  });
  const publisher: CommandPublisher = createCommandPublisher(publisherRedis, keys, logger);
  const processor = new JobProcessor(
    { handlers, middleware },
    publisher,
    new SeenClients(opts.seenClientsCapacity),
    logger,
    { handlerTimeoutMs: opts.handlerTimeoutMs },
  );
  let worker: Worker<IngressJob> | undefined;
  let workerRedis: RedisConnection | undefined;
  let closing: Promise<void> | undefined;

  const root = () => new BroadcastOperator(publisher);
  const channels = createChannels({
    defaults: { subscribe: 'allow', publish: 'deny', ...opts.channels },
    emitToRoom: (room, event, payload) => root().to(room).emit(event, payload),
  });
  for (const [event, handler] of channels.handlers) handlers.set(event, handler);

  const app: AppNode = {
    nodeId,
    on(event: string, handler: EventHandler<never[]>) {
      if (typeof event !== 'string' || event.length === 0)
        throw new TypeError('app.on(): event must be a non-empty string');
      if (event.startsWith(RESERVED_PREFIX)) {
        throw new TypeError(`app.on("${event}"): names starting with "${RESERVED_PREFIX}" are reserved`);
      }
      if (typeof handler !== 'function')
        throw new TypeError(`app.on("${event}"): handler must be a function`);
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
    command(name, payload, target) {
      if (target)
        publisher.publish(target.nodeId, { type: 'custom', name, payload, socketId: target.socketId });
      else publisher.publish(null, { type: 'custom', name, payload });
    },
    flush: () => publisher.flush(),

    async start() {
      if (worker) throw new Error('app-node already started');
      workerRedis = createRedis(opts.redis, 'blocking', { logger, connectionName: `${nodeId}:worker` });
      worker = new Worker<IngressJob>(
        keys.ingressQueue,
        async (job) => {
          let payload: IngressJob;
          try {
            payload = decodeIngressJob(job.data);
          } catch (err) {
            logger.error({ err, jobId: job.id }, 'malformed ingress job failed');
            throw new UnrecoverableError(err instanceof WireError ? err.message : String(err));
          }
          await processor.run(payload, { jobId: job.id });
        },
        {
          connection: workerRedis,
          prefix: keys.bullPrefix,
          concurrency: opts.concurrency,
          lockDuration: opts.lockDurationMs,
          stalledInterval: opts.stalledIntervalMs,
          maxStalledCount: opts.maxStalledCount,
          autorun: false,
        },
      );
      worker.on('error', (err) => logger.warn({ err }, 'worker error'));
      worker.on('failed', (job, err) => logger.error({ err, jobId: job?.id }, 'ingress job failed'));
      void worker.run().catch((err: unknown) => logger.error({ err }, 'worker stopped'));
      await worker.waitUntilReady();
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
          ['close worker', () => worker?.close()],
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
