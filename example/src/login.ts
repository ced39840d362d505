import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { SignJWT } from 'jose';
import { NICKNAME_RE } from './chat-protocol.js';

/** The demo login's settings: the io-nodes' `AUTH_JWT_*` values, so they accept what it signs. */
export interface DemoLoginOptions {
  /** `AUTH_JWT_SECRET`. */
  secret: string;
  /** `AUTH_JWT_ISSUER`, set as `iss`. @defaultValue none */
  issuer?: string;
  /** First of `AUTH_JWT_AUDIENCE`, set as `aud`. @defaultValue none */
  audience?: string;
  /** Lifetime of a token: short, the page refreshes it. @defaultValue 300 */
  ttlSeconds?: number;
}

/** What `POST /auth/token` answers. */
export interface DemoLoginResult {
  token: string;
  /** Expiry, ms since epoch. */
  expiresAt: number;
}

/** Where the demo login answers (outside `/api`, which the frontend owns). */
export const DEMO_LOGIN_PATH = '/auth/token';

/** Where the page learns whether there is a demo login (`{ login: boolean }`), without a failing request. */
export const DEMO_LOGIN_CONFIG_PATH = '/auth/config';

/** What `GET /auth/config` answers. */
export interface DemoLoginConfig {
  /** True when `POST /auth/token` signs tokens (and io-nodes want them). */
  login: boolean;
}

/**
 * A DEMO login for the chat: `POST /auth/token` `{ nickname, session? }` answers a short-lived HS256 token
 * whose `sub` is the browser tab's session and `name` the nickname. It checks no password: it shows the
 * token flow, it is not an identity provider. Real deployments issue tokens from their own login.
 */
export function demoLogin(options: DemoLoginOptions): RequestHandler {
  const key = new TextEncoder().encode(options.secret);
  const ttlSeconds = options.ttlSeconds ?? 300;
  return async (req, res) => {
    const body = (req.body ?? {}) as { nickname?: unknown; session?: unknown };
    const nickname = typeof body.nickname === 'string' ? body.nickname.trim() : '';
    if (!NICKNAME_RE.test(nickname)) {
      res.status(400).json({
        error: { code: 'BAD_NICKNAME', message: "a nickname is 1-24 letters, digits, '_', '.' or '-'" },
      });
      return;
    }
    const session =
      typeof body.session === 'string' && /^[A-Za-z0-9-]{8,64}$/.test(body.session)
        ? body.session
        : randomUUID();
    const expiresAt = (Math.floor(Date.now() / 1000) + ttlSeconds) * 1000;
    let jwt = new SignJWT({ name: nickname })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(session)
      .setIssuedAt()
      .setExpirationTime(expiresAt / 1000);
    if (options.issuer) jwt = jwt.setIssuer(options.issuer);
    if (options.audience) jwt = jwt.setAudience(options.audience);
    const result: DemoLoginResult = { token: await jwt.sign(key), expiresAt };
    res.set('cache-control', 'no-store').json(result);
  };
}
