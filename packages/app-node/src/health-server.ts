import { createServer, type ServerResponse } from 'node:http';
import { type Logger, listen } from '@iocluster/shared';

export interface HealthServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Why the node is not ready (empty: ready). */
  notReadyReasons(): string[];
  /** Answers `GET /metrics`. */
  metrics(res: ServerResponse): Promise<void>;
  nodeId: string;
  logger: Logger;
}

/** An app-node's small HTTP server: `/healthz` (process up), `/readyz`, `/metrics`. */
export interface HealthServer {
  /** Port listened on (after `start()`). */
  readonly port: number;
  start(): Promise<void>;
  /** Stops listening and drops open connections. Idempotent. */
  close(): Promise<void>;
}

export function createHealthServer(options: HealthServerOptions): HealthServer {
  const { nodeId } = options;
  const server = createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'GET only' });
    if (path === '/metrics') return void options.metrics(res);
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok', nodeId });
    if (path === '/readyz') {
      const reasons = options.notReadyReasons();
      return sendJson(res, reasons.length === 0 ? 200 : 503, {
        status: reasons.length === 0 ? 'ready' : 'not-ready',
        nodeId,
        reasons,
      });
    }
    sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${path ?? ''}` } });
  });
  let port = 0;
  let closing: Promise<void> | undefined;
  return {
    get port() {
      return port;
    },
    async start() {
      port = await listen(server, options.port, options.host);
      options.logger.info({ port, host: options.host }, 'health and metrics server listening');
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
