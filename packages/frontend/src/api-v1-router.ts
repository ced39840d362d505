import express, { type NextFunction, type Request, type Response, Router } from 'express';
import { rateLimit, type Store } from 'express-rate-limit';
import { z } from 'zod';
import {
  type ApiActor,
  ApiError,
  type ApiMethodName,
  type ApiRunner,
  isApiMethod,
  toApiError,
} from './api-methods.js';
import { API_BASE, createOpenApiDocument } from './api-openapi.js';
import { bearerToken, createTokenCheck } from './token-check.js';

export interface ApiV1Options {
  /** `API_KEY`; unset, every route but the OpenAPI document answers 404 `API_DISABLED`. */
  apiKey: string | undefined;
  runner: ApiRunner;
  /** Requests one client address may make per window. */
  rateLimit: number;
  rateWindowMs: number;
  /** Where the counts are kept (Redis, so every frontend counts together). @defaultValue in memory */
  rateStore?: Store;
}

/** Largest JSON body accepted (a batch of publishes). */
const BODY_LIMIT = '1mb';
/** Most commands one batch runs. */
const MAX_BATCH = 100;

const BatchBody = z
  .object({
    commands: z
      .array(z.object({ method: z.string(), params: z.unknown().optional() }).strict())
      .min(1)
      .max(MAX_BATCH),
  })
  .strict();

function sendError(res: Response, error: ApiError): void {
  res.status(error.status).json({ error: { code: error.code, message: error.message } });
}

/**
 * The server API at `/api/v1` (docs/http-api.md): `POST publish | broadcast | batch`, `GET presence/:room |
 * presence-stats/:room | history/:room | channels`, and `GET openapi.json` (public). Requests need
 * `Authorization: Bearer <API_KEY>` and are rate-limited per client address (before the key is checked,
 * so guessing keys is limited too). Every method runs through the {@link ApiRunner} the admin view uses.
 */
export function createApiV1Router(options: ApiV1Options): Router {
  const router = Router();
  const document = createOpenApiDocument();
  router.get(`${API_BASE}/openapi.json`, (_req, res) => {
    res.set('cache-control', 'no-store').json(document);
  });
  if (options.apiKey === undefined) {
    router.use(API_BASE, (_req, res) => {
      sendError(res, new ApiError(404, 'API_DISABLED', 'the server API is off: set API_KEY on the frontend'));
    });
    return router;
  }
  const key = createTokenCheck(options.apiKey);
  const actor = (req: Request): ApiActor => ({
    kind: 'api-key',
    id: `api-key:${key.fingerprint}`,
    address: req.ip,
  });

  router.use(
    API_BASE,
    (_req, res, next) => {
      res.set('cache-control', 'no-store');
      next();
    },
    rateLimit({
      windowMs: options.rateWindowMs,
      limit: options.rateLimit,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      // A store that cannot count (Redis down) lets the request through to fail or succeed on its own.
      passOnStoreError: true,
      ...(options.rateStore ? { store: options.rateStore } : {}),
      handler: (_req, res) => {
        sendError(
          res,
          new ApiError(
            429,
            'RATE_LIMITED',
            `more than ${options.rateLimit} requests in ${options.rateWindowMs} ms; see RateLimit-Reset`,
          ),
        );
      },
    }),
    (req, res, next) => {
      if (key.matches(bearerToken(req))) return next();
      sendError(
        res,
        new ApiError(401, 'UNAUTHORIZED', 'send the API key as "Authorization: Bearer <API_KEY>"'),
      );
    },
    express.json({ limit: BODY_LIMIT, strict: false }),
  );

  const answer =
    (name: ApiMethodName, params: (req: Request) => unknown) => async (req: Request, res: Response) => {
      const outcome = await options.runner.run(name, params(req), actor(req));
      // The same body as the first run's: only this header tells a repeat apart.
      if (outcome.repeated) res.set('idempotent-replayed', 'true');
      res.json(outcome.result);
    };
  for (const name of ['publish', 'broadcast', 'disconnect', 'subscribe', 'unsubscribe'] as const) {
    router.post(
      `${API_BASE}/${name}`,
      answer(name, (req) => req.body),
    );
  }
  router.get(
    `${API_BASE}/presence/:room`,
    answer('presence', (req) => ({ room: req.params.room })),
  );
  router.get(
    `${API_BASE}/presence-stats/:room`,
    answer('presenceStats', (req) => ({ room: req.params.room })),
  );
  router.get(
    `${API_BASE}/history/:room`,
    answer('history', (req) => ({ ...req.query, room: req.params.room })),
  );
  router.get(
    `${API_BASE}/channels`,
    answer('channels', (req) => req.query),
  );
  router.post(`${API_BASE}/batch`, async (req, res) => {
    const parsed = BatchBody.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ApiError(
        400,
        'BAD_REQUEST',
        `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'not valid'}`,
      );
    }
    const replies: unknown[] = [];
    // In order: a publish after a subscribe in the same batch finds it applied.
    for (const { method, params } of parsed.data.commands) {
      if (!isApiMethod(method)) {
        replies.push({ error: { code: 'BAD_REQUEST', message: `unknown method ${JSON.stringify(method)}` } });
        continue;
      }
      try {
        replies.push({ result: (await options.runner.run(method, params, actor(req))).result });
      } catch (err) {
        const failure = toApiError(err);
        replies.push({ error: { code: failure.code, message: failure.message } });
      }
    }
    res.json({ replies });
  });
  router.use(API_BASE, (req, res) => {
    sendError(res, new ApiError(404, 'NOT_FOUND', `no server API route ${req.method} ${req.originalUrl}`));
  });
  router.use(API_BASE, (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    sendError(res, toApiError(err));
  });
  return router;
}
