import {
  announceReady,
  createLogger,
  exitWithSupervisor,
  ioNodeWorkerEnv,
  loadConfigOrExit,
  runUntilSignal,
  runWorkers,
  startOrExit,
} from '@iocluster/shared';
import { createIoNode } from './io-node.js';

/**
 * `node packages/io-node/dist/main.js`: an io-node configured from the environment; with
 * `IO_NODE_WORKERS` > 1, a supervisor of that many io-node processes, each a node of its own.
 */
const config = loadConfigOrExit('io-node', process.env);
const logger = createLogger({ level: config.logLevel, name: 'io-node', pretty: config.logPretty });
const { ioNode } = config;
if (config.workerIndex === undefined && ioNode.workers > 1) {
  await runWorkers({
    workers: ioNode.workers,
    module: process.argv[1]!,
    args: process.argv.slice(2),
    execArgv: process.execArgv,
    env: process.env,
    workerEnv: (index, incarnation) => ioNodeWorkerEnv(ioNode, index, incarnation),
    logger,
  });
} else {
  const node = createIoNode({
    redis: config.redis,
    prefix: config.prefix,
    clusterId: config.clusterId,
    ingressPartitions: config.ingressPartitions,
    nodeId: ioNode.nodeId,
    host: ioNode.host,
    port: ioNode.port,
    publicUrl: ioNode.publicUrl,
    corsOrigins: ioNode.corsOrigins,
    eventTimeoutMs: ioNode.eventTimeoutMs,
    ordering: ioNode.ordering,
    batchMaxEvents: ioNode.batchMaxEvents,
    maxJobsInFlight: ioNode.maxJobsInFlight,
    maxPendingEvents: ioNode.maxPendingEvents,
    recoveryWindowMs: ioNode.recoveryWindowMs,
    inboxRetentionMs: ioNode.inboxRetentionMs,
    heartbeatIntervalMs: ioNode.heartbeatIntervalMs,
    heartbeatTtlMs: ioNode.heartbeatTtlMs,
    parser: ioNode.parser,
    jwt: config.auth && {
      secret: config.auth.secret,
      publicKeyPem: config.auth.publicKeyPem,
      jwksUrl: config.auth.jwksUrl,
      issuer: config.auth.issuer,
      audience: config.auth.audience,
      algorithms: config.auth.algorithms,
      expiryNoticeMs: config.auth.expiryNoticeMs,
    },
    ...config.limits,
    replicaWait: config.redisWait,
    logger,
  });
  runUntilSignal(logger, () => node.close());
  if (config.workerIndex !== undefined) exitWithSupervisor();
  const started = await startOrExit(logger, () => node.start(), {
    ports: { IO_NODE_PORT: ioNode.port },
    close: () => node.close(),
  });
  if (started) announceReady({ nodeId: node.nodeId, url: node.url, port: node.port });
}
