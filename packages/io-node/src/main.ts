import {
  announceReady,
  createLogger,
  exitWithSupervisor,
  ioNodeWorkerEnv,
  loadSettingsOrExit,
  runUntilSignal,
  runWorkers,
  startOrExit,
  warnUnknownSettings,
} from '@iocluster/shared';
import { createIoNode } from './io-node.js';

/**
 * `node packages/io-node/dist/main.js`: an io-node configured from the environment (its tier's settings and
 * the cluster-wide ones); with `IO_NODE_WORKERS` > 1, a supervisor of that many io-node processes, each a
 * node of its own.
 */
const { logLevel, logPretty, workers, workerIndex, ...options } = loadSettingsOrExit('io-node', 'io-node');
const logger = createLogger({ level: logLevel, name: 'io-node', pretty: logPretty });
// Once per command: the supervisor warns, its workers (same environment) do not.
if (workerIndex === undefined) warnUnknownSettings(process.env, logger);
if (workerIndex === undefined && workers > 1) {
  await runWorkers({
    workers,
    module: process.argv[1]!,
    args: process.argv.slice(2),
    execArgv: process.execArgv,
    env: process.env,
    workerEnv: (index, incarnation) => ioNodeWorkerEnv(options, index, incarnation),
    logger,
  });
} else {
  const node = createIoNode({ ...options, logger });
  runUntilSignal(logger, () => node.close());
  if (workerIndex !== undefined) exitWithSupervisor();
  const started = await startOrExit(logger, () => node.start(), {
    ports: { IO_NODE_PORT: options.port },
    close: () => node.close(),
  });
  if (started) announceReady({ nodeId: node.nodeId, url: node.url, port: node.port });
}
