import type { ServerResponse } from 'node:http';
import { cachedReader, createProcessMetrics, type RedisConnection } from '@iocluster/shared';
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

/** Several scrapers, and the admin view's polls, cost one queue read per this long. */
const QUEUE_READ_MAX_AGE_MS = 1_000;

export function createFrontendMetrics(options: FrontendMetricsOptions): FrontendMetrics {
  const base = createProcessMetrics();
  const registers = [base.registry];
  const queueCounts = cachedReader(options.queueCounts, QUEUE_READ_MAX_AGE_MS);
  new Gauge({
    name: 'iocluster_frontend_io_nodes',
    help: 'Live io-nodes in this frontend’s view of the registry',
    registers,
    collect() {
      this.set(options.liveIoNodes());
    },
  });
  new Gauge({
    name: 'iocluster_queue_jobs',
    help: 'Jobs in the ingress queue by state (the same value from every process that reports it)',
    labelNames: ['state'] as const,
    registers,
    async collect() {
      const counts = await queueCounts();
      for (const state of ['waiting', 'active', 'delayed', 'failed'] as const) {
        this.set({ state }, counts[state]);
      }
    },
  });
  return { queueCounts, watchRedis: base.watchRedis, serve: base.serve };
}
