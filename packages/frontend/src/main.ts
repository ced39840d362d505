import {
  announceReady,
  createLogger,
  loadSettingsOrExit,
  runUntilSignal,
  startOrExit,
  warnUnknownSettings,
} from '@iocluster/shared';
import { createFrontend } from './frontend.js';

/** `node packages/frontend/dist/main.js`: the frontend configured from the environment (its tier's settings). */
const { logLevel, logPretty, workerIndex: _, ...options } = loadSettingsOrExit('frontend', 'frontend');
const logger = createLogger({ level: logLevel, name: 'frontend', pretty: logPretty });
warnUnknownSettings(process.env, logger);
const frontend = createFrontend({ ...options, logger });
runUntilSignal(logger, () => frontend.close());
const started = await startOrExit(logger, () => frontend.start(), {
  ports: { FRONTEND_PORT: options.port },
  close: () => frontend.close(),
});
if (started) announceReady({ url: frontend.url, port: frontend.port });
