import { announceReady, createLogger, loadConfig, runUntilSignal } from '@iocluster/shared';
import { createFrontend, frontendOptionsFrom } from './frontend.js';

/** `node packages/frontend/dist/main.js`: the frontend configured from the environment. */
const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'frontend', pretty: config.logPretty });
const frontend = createFrontend(frontendOptionsFrom(config, logger));
runUntilSignal(logger, () => frontend.close());
await frontend.start();
announceReady({ url: frontend.url, port: frontend.port });
