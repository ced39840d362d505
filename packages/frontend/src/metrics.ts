import type { ServerResponse } from 'node:http';
import { createProcessMetrics, queueJobsGauge, type RedisConnection } from '@iocluster/shared';
import { Gauge } from 'prom-client';
import type { QueueCounts } from './admin-state.js';

/** The frontend's Prometheus metrics (see docs/operations.md), on a registry of its own. */
export interface FrontendMetrics {
  /** Queue counts through the same short cache the gauge uses (the admin view reads them too). */
  queueCounts(): Promise<QueueCounts>;
  /** Counts the connection's reconnects; returns the remover. */
  watchRedis(connection: RedisConnection, role: string): () => void;
  /** Answers `GET /metrics`. */
  serve(res: ServerResponse): Promise<void>;
}

export interface FrontendMetricsOptions {
  /** Live io-nodes in the frontend's view of the registry. */
  liveIoNodes(): number;
  /** Ingress queue counts (BullMQ `Queue.getJobCounts`); rejects while the queue is unavailable. */
  queueCounts(): Promise<QueueCounts>;
}

export function createFrontendMetrics(options: FrontendMetricsOptions): FrontendMetrics {
  const base = createProcessMetrics();
  const registers = [base.registry];
  const queueCounts = queueJobsGauge(base.registry, options.queueCounts);
  new Gauge({
    name: 'iocluster_frontend_io_nodes',
    help: 'Live io-nodes in this frontend’s view of the registry',
    registers,
    collect() {
      this.set(options.liveIoNodes());
    },
  });
  return { queueCounts, watchRedis: base.watchRedis, serve: base.serve };
}
