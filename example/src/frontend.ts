import { createFrontend, frontendOptionsFrom } from '@iocluster/frontend';
import { announceReady, createLogger, loadConfig, runUntilSignal } from '@iocluster/shared';
import express from 'express';
import { DEMO_LOGIN_CONFIG_PATH, DEMO_LOGIN_PATH, type DemoLoginConfig, demoLogin } from './login.js';

/**
 * `node example/dist/frontend.js`: the frontend of packages/frontend plus the chat's demo login, which
 * signs tokens with `AUTH_JWT_SECRET` (the io-nodes' secret; `npm run example` generates one).
 */
const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'frontend', pretty: config.logPretty });
const frontend = createFrontend(frontendOptionsFrom(config, logger));
const secret = config.auth?.secret;
const loginConfig: DemoLoginConfig = { login: secret !== undefined && secret !== '' };
frontend.app.get(DEMO_LOGIN_CONFIG_PATH, (_req, res) => {
  res.set('cache-control', 'no-store').json(loginConfig);
});
if (secret) {
  frontend.app.post(
    DEMO_LOGIN_PATH,
    express.json({ limit: '1kb' }),
    demoLogin({ secret, issuer: config.auth?.issuer, audience: config.auth?.audience?.[0] }),
  );
} else {
  logger.warn('AUTH_JWT_SECRET is not set: no demo login, io-nodes must accept anonymous clients');
}
runUntilSignal(logger, () => frontend.close());
await frontend.start();
announceReady({ url: frontend.url, port: frontend.port });
