import { announceReady, createLogger, loadConfig, runUntilSignal } from '@iocluster/shared';
import { createIoNode } from './io-node.js';

/** `node packages/io-node/dist/main.js`: an io-node configured from the environment. */
const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'io-node', pretty: config.logPretty });
const { ioNode } = config;
const node = createIoNode({
  redis: config.redis,
  prefix: config.prefix,
  nodeId: ioNode.nodeId,
  host: ioNode.host,
  port: ioNode.port,
  publicUrl: ioNode.publicUrl,
  corsOrigins: ioNode.corsOrigins,
  eventTimeoutMs: ioNode.eventTimeoutMs,
  ordering: ioNode.ordering,
  batchMaxEvents: ioNode.batchMaxEvents,
  maxJobsInFlight: ioNode.maxJobsInFlight,
  heartbeatIntervalMs: ioNode.heartbeatIntervalMs,
  heartbeatTtlMs: ioNode.heartbeatTtlMs,
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
  logger,
});
runUntilSignal(logger, () => node.close());
await node.start();
announceReady({ nodeId: node.nodeId, url: node.url, port: node.port });
