import { announceReady, createLogger, loadConfig, runUntilSignal } from '@iocluster/shared';
import { createFrontend } from './frontend.js';

/** `node packages/frontend/dist/main.js`: the frontend configured from the environment. */
const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'frontend', pretty: config.logPretty });
const { frontend: settings } = config;
const frontend = createFrontend({
  redis: config.redis,
  prefix: config.prefix,
  ingressPartitions: config.ingressPartitions,
  host: settings.host,
  port: settings.port,
  strategy: settings.strategy,
  proxy: settings.proxy,
  proxyPath: settings.proxyPath,
  staticDir: settings.staticDir,
  registryRefreshMs: settings.registryRefreshMs,
  adminToken: settings.adminToken,
  logger,
});
runUntilSignal(logger, () => frontend.close());
await frontend.start();
announceReady({ url: frontend.url, port: frontend.port });
