import {
  announceReady,
  createLogger,
  loadSettings,
  runUntilSignal,
  warnUnknownSettings,
} from '@iocluster/shared';
import { createFrontend } from './frontend.js';

/** `node packages/frontend/dist/main.js`: the frontend configured from the environment (its tier's settings). */
const { logLevel, logPretty, workerIndex: _, ...options } = loadSettings('frontend');
const logger = createLogger({ level: logLevel, name: 'frontend', pretty: logPretty });
warnUnknownSettings(process.env, logger);
const frontend = createFrontend({ ...options, logger });
runUntilSignal(logger, () => frontend.close());
await frontend.start();
announceReady({ url: frontend.url, port: frontend.port });
