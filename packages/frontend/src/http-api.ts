import { BALANCE_STRATEGIES, type BalanceStrategy, type IoNodeRecord } from '@iocluster/shared';
import { type Request, type Response, Router } from 'express';

/** Stable codes of the frontend's JSON errors (`{ "error": { "code", "message" } }`). */
export type FrontendErrorCode =
  | 'NO_IO_NODES'
  | 'BAD_STRATEGY'
  | 'REGISTRY_UNAVAILABLE'
  | 'NOT_FOUND'
  /** `/admin` without the admin token (admin-auth.ts). */
  | 'UNAUTHORIZED';

/** What the routes need from the frontend. */
export interface ApiContext {
  /** Live io-nodes in registry order, or undefined when the registry could not be read lately. */
  nodes(): readonly IoNodeRecord[] | undefined;
  /** Picks a node among the live ones by `strategy` (and counts the pick). */
  pick(strategy: BalanceStrategy): IoNodeRecord | undefined;
  readonly defaultStrategy: BalanceStrategy;
  /** Resolves true when Redis answers a PING in time. */
  redisReachable(): Promise<boolean>;
  /** Set when the frontend forwards Socket.IO traffic under `path` (proxy mode). */
  readonly proxy: { readonly path: string } | undefined;
}

function sendError(res: Response, status: number, code: FrontendErrorCode, message: string): void {
  res.status(status).json({ error: { code, message } });
}

/** The live list, or a 503 already sent (no node, or registry unreadable). */
function liveOrFail(ctx: ApiContext, res: Response): readonly IoNodeRecord[] | undefined {
  const nodes = ctx.nodes();
  if (!nodes) {
    sendError(res, 503, 'REGISTRY_UNAVAILABLE', 'the io-node registry in Redis cannot be read; try again');
    return undefined;
  }
  if (nodes.length === 0) {
    sendError(res, 503, 'NO_IO_NODES', 'no live io-node; start one or try again shortly');
    return undefined;
  }
  return nodes;
}

function noStore(_req: Request, res: Response, next: () => void): void {
  res.set('cache-control', 'no-store');
  next();
}

/**
 * The frontend's HTTP API:
 * - `GET /api/io-nodes` → `{ nodes: IoNodeRecord[] }` (live only)
 * - `GET /api/connect?strategy=…` → `{ nodeId, url }`; 400 `BAD_STRATEGY` for an unknown strategy
 * - `GET /api/config` → `{ proxy: boolean, proxyPath?: string }`: whether pages should connect through
 *   the frontend (so they need not probe for it)
 * - `GET /config.js` → `var SOCKET_SERVERS = ["http://…", …];` (the 2011 design's page config)
 * - `GET /healthz` (process up), `GET /readyz` (Redis reachable and at least one live io-node)
 *
 * The first three answer 503 `NO_IO_NODES` when no io-node is live. `/api/*` allows any origin: it is
 * public, read-only and takes no credentials.
 */
export function createApiRouter(ctx: ApiContext): Router {
  const router = Router();

  router.get('/healthz', noStore, (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', noStore, async (_req, res) => {
    const redis = await ctx.redisReachable();
    const ioNodes = ctx.nodes()?.length ?? 0;
    const reasons: string[] = [];
    if (!redis) reasons.push('redis unreachable');
    if (ioNodes === 0) reasons.push('no live io-node');
    res.status(reasons.length === 0 ? 200 : 503).json({
      status: reasons.length === 0 ? 'ready' : 'not-ready',
      redis: redis ? 'ok' : 'unreachable',
      ioNodes,
      reasons,
    });
  });

  router.use('/api', noStore, (_req, res, next) => {
    res.set('access-control-allow-origin', '*');
    next();
  });

  router.get('/api/io-nodes', (_req, res) => {
    const nodes = liveOrFail(ctx, res);
    if (nodes) res.json({ nodes });
  });

  router.get('/api/config', (_req, res) => {
    res.json(ctx.proxy ? { proxy: true, proxyPath: ctx.proxy.path } : { proxy: false });
  });

  router.get('/api/connect', (req, res) => {
    const raw = req.query.strategy;
    let strategy = ctx.defaultStrategy;
    if (raw !== undefined) {
      if (typeof raw !== 'string' || !(BALANCE_STRATEGIES as readonly string[]).includes(raw)) {
        sendError(
          res,
          400,
          'BAD_STRATEGY',
          `strategy must be one of ${BALANCE_STRATEGIES.join(', ')}, got ${JSON.stringify(raw)}`,
        );
        return;
      }
      strategy = raw as BalanceStrategy;
    }
    if (!liveOrFail(ctx, res)) return;
    const node = ctx.pick(strategy)!;
    res.json({ nodeId: node.nodeId, url: node.url });
  });

  router.use('/api', (req, res) => {
    sendError(res, 404, 'NOT_FOUND', `no API route ${req.method} ${req.originalUrl}`);
  });

  router.get('/config.js', noStore, (_req, res) => {
    const nodes = liveOrFail(ctx, res);
    if (!nodes) return;
    const urls = JSON.stringify(nodes.map((n) => n.url));
    res.type('application/javascript').send(`var SOCKET_SERVERS = ${urls};\n`);
  });

  return router;
}
