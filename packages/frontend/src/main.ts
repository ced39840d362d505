import {
  announceReady,
  createLogger,
  loadConfigOrExit,
  runUntilSignal,
  startOrExit,
} from '@iocluster/shared';
import { createFrontend, frontendOptionsFrom } from './frontend.js';

/** `node packages/frontend/dist/main.js`: the frontend configured from the environment. */
const config = loadConfigOrExit('frontend', process.env);
const logger = createLogger({ level: config.logLevel, name: 'frontend', pretty: config.logPretty });
const frontend = createFrontend(frontendOptionsFrom(config, logger));
runUntilSignal(logger, () => frontend.close());
const started = await startOrExit(logger, () => frontend.start(), {
  ports: { FRONTEND_PORT: config.frontend.port },
  close: () => frontend.close(),
});
if (started) announceReady({ url: frontend.url, port: frontend.port });
