import { createFrontend } from '@iocluster/frontend';
import {
  announceReady,
  createLogger,
  loadSettings,
  runUntilSignal,
  warnUnknownSettings,
} from '@iocluster/shared';
import express from 'express';
import { DEMO_LOGIN_CONFIG_PATH, DEMO_LOGIN_PATH, type DemoLoginConfig, demoLogin } from './login.js';

/**
 * `node example/dist/frontend.js`: the frontend of packages/frontend plus the chat's demo login, which
 * signs tokens with `AUTH_JWT_SECRET` (the io-nodes' secret; `npm run example` generates one), so it
 * reads the io-node's settings too.
 */
const { logLevel, logPretty, workerIndex: _, ...options } = loadSettings('frontend');
const { jwt } = loadSettings('io-node');
const logger = createLogger({ level: logLevel, name: 'frontend', pretty: logPretty });
warnUnknownSettings(process.env, logger);
const frontend = createFrontend({ ...options, logger });
const secret = jwt?.secret;
const loginConfig: DemoLoginConfig = { login: secret !== undefined && secret !== '' };
frontend.app.get(DEMO_LOGIN_CONFIG_PATH, (_req, res) => {
  res.set('cache-control', 'no-store').json(loginConfig);
});
if (secret) {
  frontend.app.post(
    DEMO_LOGIN_PATH,
    express.json({ limit: '1kb' }),
    demoLogin({ secret, issuer: jwt?.issuer, audience: jwt?.audience?.[0] }),
  );
} else {
  logger.warn('AUTH_JWT_SECRET is not set: no demo login, io-nodes must accept anonymous clients');
}
runUntilSignal(logger, () => frontend.close());
await frontend.start();
announceReady({ url: frontend.url, port: frontend.port });
