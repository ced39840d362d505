import type { BalanceStrategy, IoNodeRecord } from '@iocluster/shared';
import { ClientError } from './errors.js';
import type { NodeTarget } from './events.js';

/** Asks the frontend which io-node to use. */
export interface DiscoveryOptions {
  readonly frontendUrl: string;
  readonly strategy: BalanceStrategy | undefined;
  readonly timeoutMs: number;
  readonly fetch: typeof fetch;
}

/**
 * `GET /api/connect`; when the frontend proposes a node in `avoid` (one that just failed us but has not
 * yet dropped out of the registry, e.g. a killed node whose heartbeat has not expired), falls back to
 * `GET /api/io-nodes` and takes the least loaded other live node. Relative node URLs (proxy mode) are
 * resolved against the frontend URL.
 */
export async function discoverNode(
  options: DiscoveryOptions,
  avoid: ReadonlySet<string>,
  signal: AbortSignal,
): Promise<NodeTarget> {
  const query = options.strategy ? `?strategy=${encodeURIComponent(options.strategy)}` : '';
  const body = await getJson(options, `api/connect${query}`, signal);
  const picked = toTarget(body, options.frontendUrl);
  if (!picked) throw new ClientError('DISCOVERY_FAILED', 'GET /api/connect answered without nodeId and url');
  if (!avoid.has(picked.nodeId)) return picked;
  const list = await getJson(options, 'api/io-nodes', signal).catch(() => undefined);
  const nodes = (list as { nodes?: unknown } | undefined)?.nodes;
  if (!Array.isArray(nodes)) return picked;
  const others = nodes
    .filter((node): node is IoNodeRecord => {
      const n = node as Partial<IoNodeRecord> | null;
      return typeof n?.nodeId === 'string' && typeof n.url === 'string' && !avoid.has(n.nodeId);
    })
    .sort((a, b) => (a.connections ?? 0) - (b.connections ?? 0));
  const other = others[0] && toTarget(others[0], options.frontendUrl);
  return other ?? picked;
}

async function getJson(options: DiscoveryOptions, path: string, outer: AbortSignal): Promise<unknown> {
  const url = new URL(path, withSlash(options.frontendUrl)).href;
  const controller = new AbortController();
  const abort = () => controller.abort();
  outer.addEventListener('abort', abort);
  const timer = setTimeout(abort, options.timeoutMs);
  try {
    let response: Response;
    try {
      response = await options.fetch(url, {
        signal: controller.signal,
        headers: { accept: 'application/json' },
      });
    } catch (cause) {
      const reason = outer.aborted ? 'aborted' : controller.signal.aborted ? 'timed out' : 'failed';
      throw new ClientError('FRONTEND_UNREACHABLE', `GET ${url} ${reason}`, { cause });
    }
    const body: unknown = await response.json().catch(() => undefined);
    if (response.ok) return body;
    const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const message = typeof error?.message === 'string' ? error.message : `HTTP ${response.status}`;
    if (error?.code === 'NO_IO_NODES') throw new ClientError('NO_IO_NODES', message);
    throw new ClientError('DISCOVERY_FAILED', `GET ${url}: ${message}`);
  } finally {
    clearTimeout(timer);
    outer.removeEventListener('abort', abort);
  }
}

function toTarget(value: unknown, frontendUrl: string): NodeTarget | undefined {
  const v = value as { nodeId?: unknown; url?: unknown } | null | undefined;
  if (typeof v?.nodeId !== 'string' || v.nodeId === '' || typeof v.url !== 'string') return undefined;
  // Absolute URLs are kept as the registry has them; relative ones (a proxy path) are resolved.
  const absolute = /^https?:\/\//.test(v.url);
  return { nodeId: v.nodeId, url: absolute ? v.url : new URL(v.url, withSlash(frontendUrl)).href };
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}
