import express, { type NextFunction, type Request, type Response, Router } from 'express';
import type { ApiActor } from './api-methods.js';
import type { FrontendErrorCode } from './http-api.js';
import { bearerToken, createTokenCheck } from './token-check.js';

const UNAUTHORIZED: FrontendErrorCode = 'UNAUTHORIZED';

/** Name of the cookie that carries the admin token (HttpOnly, SameSite=Strict, Path=/admin). */
export const ADMIN_COOKIE = 'iocluster_admin';

/** The token check of the admin view, and the routes that hand out its cookie. */
export interface AdminAuth {
  /** `/admin/login` (POST, form) and `/admin?token=…` (sets the cookie, redirects to `/admin`). */
  readonly router: Router;
  /** Lets through requests with the token (cookie or `Authorization: Bearer`); otherwise 401. */
  require(req: Request, res: Response, next: NextFunction): void;
  /**
   * Who acts in the admin view, for the log of what they do: the token's fingerprint (every holder of the
   * admin token is one admin) and the request's address.
   */
  actor(req: Request): ApiActor;
}

function cookieToken(req: Request): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === ADMIN_COOKIE) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The token form, as a full page (answered with 401). */
function loginPage(message: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>iocluster admin - sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/admin/assets/admin.css"></head>
<body class="login"><form method="post" action="/admin/login">
<h1>iocluster admin</h1>
<p>${escapeHtml(message)}</p>
<label>Admin token <input name="token" type="password" autocomplete="current-password" autofocus required></label>
<button type="submit">Open</button>
</form></body></html>`;
}

export function createAdminAuth(token: string): AdminAuth {
  const check = createTokenCheck(token);
  const sameToken = (given: string | undefined) => check.matches(given);
  const router = Router();

  const grant = (res: Response, given: string) => {
    res.cookie(ADMIN_COOKIE, given, { httpOnly: true, sameSite: 'strict', path: '/admin' });
    res.redirect(303, '/admin');
  };
  const refuse = (res: Response, message: string) => {
    res.status(401).set('cache-control', 'no-store').type('html').send(loginPage(message));
  };

  // Assets of the sign-in page itself (the stylesheet) are public; everything else under /admin is not.
  router.post('/admin/login', express.urlencoded({ extended: false, limit: '4kb' }), (req, res) => {
    const given = typeof req.body?.token === 'string' ? req.body.token : undefined;
    if (given !== undefined && sameToken(given)) grant(res, given);
    else refuse(res, 'That token is not right. Try again.');
  });
  router.get('/admin', (req, res, next) => {
    const given = req.query.token;
    if (typeof given !== 'string') return next();
    if (sameToken(given)) grant(res, given);
    else refuse(res, 'That token is not right. Try again.');
  });

  return {
    router,
    require(req, res, next) {
      if (sameToken(bearerToken(req) ?? cookieToken(req))) return next();
      // Mounted under /admin, so `req.path` is relative: the page itself is what the original URL names.
      const path = req.originalUrl.split('?')[0];
      if (req.method === 'GET' && (path === '/admin' || path === '/admin/')) {
        return refuse(res, 'Enter the admin token (ADMIN_TOKEN) to see the cluster.');
      }
      res
        .status(401)
        .set('cache-control', 'no-store')
        .json({ error: { code: UNAUTHORIZED, message: 'the admin token is missing or wrong' } });
    },
    actor: (req) => ({ kind: 'admin', id: `admin-token:${check.fingerprint}`, address: req.ip }),
  };
}
