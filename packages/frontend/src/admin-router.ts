import { fileURLToPath } from 'node:url';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express, {
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
  Router,
} from 'express';
import { createAdminAuth } from './admin-auth.js';
import type { AdminState } from './admin-state.js';
import { type ApiError, type ApiRunner, isApiMethod, toApiError } from './api-methods.js';

/** The admin page and its assets (packages/frontend/admin/, beside src/ and dist/). */
const ASSETS_DIR = fileURLToPath(new URL('../admin/', import.meta.url));

/** Where bull-board is mounted. */
export const QUEUE_BOARD_PATH = '/admin/queue';

export interface AdminRouter {
  readonly router: Router;
  /** Shows the ingress queue in bull-board (once the frontend has its Redis connection). */
  setQueue(queue: Queue): void;
}

/**
 * `/admin` behind the token: the page (`/admin`), its assets (`/admin/assets/`), its data
 * (`GET /admin/api/state` → {@link AdminState}), its actions (`POST /admin/api/actions/<method>` with the
 * server API method's JSON body: publish, disconnect..., run and logged like `/api/v1`'s, as the admin)
 * and bull-board at `/admin/queue` (counts, failed jobs with their error, retry, remove).
 */
export function createAdminRouter(options: {
  token: string;
  state(): Promise<AdminState>;
  /** Runs the actions: the server API's methods. */
  actions: ApiRunner;
}): AdminRouter {
  const auth = createAdminAuth(options.token);
  const router = Router();
  const board = new ExpressAdapter();
  board.setBasePath(QUEUE_BOARD_PATH);
  const bullBoard = createBullBoard({
    queues: [],
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'iocluster ingress' } },
  });
  const noStore: RequestHandler = (_req, res, next) => {
    res.set('cache-control', 'no-store');
    next();
  };

  router.get('/admin/assets/admin.css', (_req, res) => res.sendFile(`${ASSETS_DIR}admin.css`));
  router.use(auth.router);
  router.use('/admin', auth.require);
  router.get(['/admin', '/admin/'], noStore, (_req, res) => res.sendFile(`${ASSETS_DIR}index.html`));
  router.use('/admin/assets', express.static(ASSETS_DIR, { index: false }));
  router.get('/admin/api/state', noStore, async (_req, res, next) => {
    try {
      res.json(await options.state());
    } catch (err) {
      next(err);
    }
  });
  router.post(
    '/admin/api/actions/:method',
    noStore,
    express.json({ limit: '256kb' }),
    async (req: Request, res: Response) => {
      const { method } = req.params;
      if (!isApiMethod(method)) {
        res
          .status(404)
          .json({ error: { code: 'NOT_FOUND', message: `no admin action ${JSON.stringify(method)}` } });
        return;
      }
      const outcome = await options.actions.run(method, req.body, auth.actor(req));
      res.json(outcome.result);
    },
    (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
      const failure: ApiError = toApiError(err);
      res.status(failure.status).json({ error: { code: failure.code, message: failure.message } });
    },
  );
  router.use(QUEUE_BOARD_PATH, board.getRouter() as RequestHandler);

  return {
    router,
    setQueue: (queue) => bullBoard.addQueue(new BullMQAdapter(queue, { readOnlyMode: false })),
  };
}
