import {
  announceReady,
  appNodeWorkerEnv,
  createLogger,
  exitAfterStartFailure,
  exitWithSupervisor,
  loadConfigOrExit,
  runUntilSignal,
  runWorkers,
  startOrExit,
} from '@iocluster/shared';
import { createAppNode } from './app-node.js';
import { loadHandlersModule } from './handlers-module.js';

/**
 * `node packages/app-node/dist/main.js <handlers-module>`: runs an app-node whose handlers come from a
 * module that default-exports (or exports as `register`) a function `(app: AppNode) => void`; with
 * `APP_NODE_WORKERS` > 1, a supervisor of that many app-node processes.
 */
const config = loadConfigOrExit('app-node', process.env);
const logger = createLogger({ level: config.logLevel, name: 'app-node', pretty: config.logPretty });
const modulePath = process.argv[2] ?? process.env.APP_MODULE;
if (!modulePath) {
  logger.fatal('usage: app-node <handlers-module> (or set APP_MODULE)');
  process.exit(2);
}
if (config.workerIndex === undefined && config.appNode.workers > 1) {
  await runWorkers({
    workers: config.appNode.workers,
    module: process.argv[1]!,
    args: process.argv.slice(2),
    execArgv: process.execArgv,
    env: process.env,
    workerEnv: (index, incarnation) => appNodeWorkerEnv(config.appNode, index, incarnation),
    logger,
  });
} else {
  const register = await loadHandlersModule(modulePath).catch((err: unknown) =>
    exitAfterStartFailure(logger, err),
  );
  const app = createAppNode({
    redis: config.redis,
    prefix: config.prefix,
    clusterId: config.clusterId,
    ingressPartitions: config.ingressPartitions,
    nodeId: config.appNode.nodeId,
    concurrency: config.appNode.concurrency,
    lockDurationMs: config.appNode.lockDurationMs,
    stalledIntervalMs: config.appNode.stalledIntervalMs,
    maxStalledCount: config.appNode.maxStalledCount,
    commandAppendScript: config.appNode.commandAppendScript,
    inboxRetentionMs: config.appNode.inboxRetentionMs,
    recoveryWindowMs: config.appNode.recoveryWindowMs,
    replicaWait: config.redisWait,
    metricsPort: config.appNode.metricsPort,
    metricsHost: config.appNode.metricsHost,
    heartbeatIntervalMs: config.ioNode.heartbeatIntervalMs,
    heartbeatTtlMs: config.ioNode.heartbeatTtlMs,
    history: {
      rooms: config.appNode.historyRooms,
      maxLength: config.appNode.historyMaxLength,
      ttlMs: config.appNode.historyTtlMs,
    },
    logger,
  });
  runUntilSignal(logger, () => app.close());
  if (config.workerIndex !== undefined) exitWithSupervisor();
  const started = await startOrExit(
    logger,
    async () => {
      await register(app);
      await app.start();
    },
    { ports: { METRICS_PORT: config.appNode.metricsPort }, close: () => app.close() },
  );
  if (started) announceReady({ nodeId: app.nodeId, metricsUrl: app.metricsUrl });
}
