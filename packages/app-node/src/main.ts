import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  announceReady,
  appNodeWorkerEnv,
  createLogger,
  exitWithSupervisor,
  loadSettings,
  runUntilSignal,
  runWorkers,
  warnUnknownSettings,
} from '@iocluster/shared';
import { type AppNode, createAppNode } from './app-node.js';

/**
 * `node packages/app-node/dist/main.js <handlers-module>`: runs an app-node whose handlers come from a
 * module that default-exports (or exports as `register`) a function `(app: AppNode) => void`, configured
 * from the environment (its tier's settings and the cluster-wide ones); with `APP_NODE_WORKERS` > 1, a
 * supervisor of that many app-node processes.
 */
const { logLevel, logPretty, workers, workerIndex, appModule, ...options } = loadSettings('app-node');
const logger = createLogger({ level: logLevel, name: 'app-node', pretty: logPretty });
// Once per command: the supervisor warns, its workers (same environment) do not.
if (workerIndex === undefined) warnUnknownSettings(process.env, logger);
const modulePath = process.argv[2] ?? appModule;
if (!modulePath) {
  logger.fatal('usage: app-node <handlers-module> (or set APP_MODULE)');
  process.exit(2);
}
if (workerIndex === undefined && workers > 1) {
  await runWorkers({
    workers,
    module: process.argv[1]!,
    args: process.argv.slice(2),
    execArgv: process.execArgv,
    env: process.env,
    workerEnv: (index, incarnation) => appNodeWorkerEnv(options, index, incarnation),
    logger,
  });
} else {
  const handlers = (await import(pathToFileURL(resolve(modulePath)).href)) as {
    default?: (app: AppNode) => unknown;
    register?: (app: AppNode) => unknown;
  };
  const register = handlers.default ?? handlers.register;
  if (typeof register !== 'function') {
    logger.fatal(
      { modulePath },
      'the handlers module must export a function `register(app)` (default or named)',
    );
    process.exit(2);
  }
  const app = createAppNode({ ...options, logger });
  await register(app);
  runUntilSignal(logger, () => app.close());
  if (workerIndex !== undefined) exitWithSupervisor();
  await app.start();
  announceReady({ nodeId: app.nodeId, metricsUrl: app.metricsUrl });
}
