import type { AppNodeRecord, IoNodeRecord } from '@iocluster/shared';
import { Router } from 'express';

/** The tiers whose nodes register themselves, and so can be listed for Prometheus. */
export type ScrapedTier = 'io-node' | 'app-node';
const TIERS: readonly ScrapedTier[] = ['io-node', 'app-node'];

/** One entry of Prometheus' HTTP service discovery: targets and the labels they share. */
export interface ScrapeTargetGroup {
  readonly targets: string[];
  readonly labels: Record<string, string>;
}

/**
 * Every registered node as a Prometheus target: io-nodes at their URL (`/metrics` beside Socket.IO),
 * app-nodes at their `metricsUrl` (none without `METRICS_PORT`). Each worker of a worker supervisor is a
 * node of its own with its own port, so each is scraped, whatever the number of workers per host.
 */
export function scrapeTargets(
  ioNodes: readonly IoNodeRecord[],
  appNodes: readonly AppNodeRecord[],
  tier?: ScrapedTier,
): ScrapeTargetGroup[] {
  const groups: ScrapeTargetGroup[] = [];
  const add = (nodeTier: ScrapedTier, nodeId: string, metricsUrl: string) => {
    if (tier !== undefined && tier !== nodeTier) return;
    const url = new URL(metricsUrl);
    groups.push({
      targets: [url.host],
      labels: {
        __scheme__: url.protocol.slice(0, -1),
        __metrics_path__: url.pathname,
        tier: nodeTier,
        node_id: nodeId,
      },
    });
  };
  for (const node of ioNodes) add('io-node', node.nodeId, new URL('/metrics', node.url).href);
  for (const node of appNodes) if (node.metricsUrl !== '') add('app-node', node.nodeId, node.metricsUrl);
  return groups;
}

/**
 * `GET /api/scrape-targets[?tier=io-node|app-node]`: {@link scrapeTargets} in the format of Prometheus'
 * `http_sd_configs`; 503 when the registry cannot be read (Prometheus then keeps its last list).
 */
export function createScrapeTargetsRouter(source: {
  ioNodes(): readonly IoNodeRecord[] | undefined;
  appNodes(): Promise<readonly AppNodeRecord[]>;
}): Router {
  const router = Router();
  router.get('/api/scrape-targets', async (req, res) => {
    res.set('cache-control', 'no-store');
    const raw = req.query.tier;
    if (raw !== undefined && !(TIERS as readonly unknown[]).includes(raw)) {
      res.status(400).json({
        error: {
          code: 'BAD_REQUEST',
          message: `tier must be one of ${TIERS.join(', ')}, got ${JSON.stringify(raw)}`,
        },
      });
      return;
    }
    const ioNodes = source.ioNodes();
    let appNodes: readonly AppNodeRecord[];
    try {
      appNodes = await source.appNodes();
    } catch {
      appNodes = [];
    }
    if (!ioNodes) {
      res
        .status(503)
        .json({ error: { code: 'REGISTRY_UNAVAILABLE', message: 'the registry cannot be read' } });
      return;
    }
    res.json(scrapeTargets(ioNodes, appNodes, raw as ScrapedTier | undefined));
  });
  return router;
}
