import {
  announceReady,
  appNodeWorkerEnv,
  createLogger,
  exitAfterStartFailure,
  exitWithSupervisor,
  loadSettingsOrExit,
  runUntilSignal,
  runWorkers,
  startOrExit,
  warnUnknownSettings,
} from '@iocluster/shared';
import { createAppNode } from './app-node.js';
import { loadHandlersModule } from './handlers-module.js';

/**
 * `node packages/app-node/dist/main.js <handlers-module>`: runs an app-node whose handlers come from a
 * module that default-exports (or exports as `register`) a function `(app: AppNode) => void`, configured
 * from the environment (its tier's settings and the cluster-wide ones); with `APP_NODE_WORKERS` > 1, a
 * supervisor of that many app-node processes.
 */
const { logLevel, logPretty, workers, workerIndex, appModule, ...options } = loadSettingsOrExit(
  'app-node',
  'app-node',
);
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
  const register = await loadHandlersModule(modulePath).catch((err: unknown) =>
    exitAfterStartFailure(logger, err),
  );
  const app = createAppNode({ ...options, logger });
  runUntilSignal(logger, () => app.close());
  if (workerIndex !== undefined) exitWithSupervisor();
  const started = await startOrExit(
    logger,
    async () => {
      await register(app);
      await app.start();
    },
    { ports: { METRICS_PORT: options.metricsPort }, close: () => app.close() },
  );
  if (started) announceReady({ nodeId: app.nodeId, metricsUrl: app.metricsUrl });
}
