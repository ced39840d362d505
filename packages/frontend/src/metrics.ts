import type { ServerResponse } from 'node:http';
import { createProcessMetrics, queueJobsGauge, type RedisConnection } from '@iocluster/shared';
import { Gauge } from 'prom-client';
import type { IngressView } from './ingress-view.js';

/** The frontend's Prometheus metrics (see docs/operations.md), on a registry of its own. */
export interface FrontendMetrics {
  /** The ingress through the same short cache the gauges use (the admin view reads it too). */
  ingress(): Promise<IngressView>;
  /** Counts the connection's reconnects; returns the remover. */
  watchRedis(connection: RedisConnection, role: string): () => void;
  /** Answers `GET /metrics`. */
  serve(res: ServerResponse): Promise<void>;
}

export interface FrontendMetricsOptions {
  /** Live io-nodes in the frontend's view of the registry. */
  liveIoNodes(): number;
  /** Reads the ingress (see `createIngressReader`); rejects while it is unavailable. */
  ingress(): Promise<IngressView>;
}

export function createFrontendMetrics(options: FrontendMetricsOptions): FrontendMetrics {
  const base = createProcessMetrics();
  const registers = [base.registry];
  const ingress = queueJobsGauge(base.registry, options.ingress);
  new Gauge({
    name: 'iocluster_frontend_io_nodes',
    help: 'Live io-nodes in this frontend’s view of the registry',
    registers,
    collect() {
      this.set(options.liveIoNodes());
    },
  });
  new Gauge({
    name: 'iocluster_ingress_partition_jobs',
    help: 'Per ingress partition: its lag (waiting) and pending entries (active), Streams; its job counts, BullMQ',
    labelNames: ['partition', 'state'] as const,
    registers,
    async collect() {
      const view = await ingress();
      this.reset();
      for (const part of view.partitions) {
        const partition = String(part.index);
        for (const state of ['waiting', 'active', 'delayed'] as const)
          this.set({ partition, state }, part[state]);
      }
    },
  });
  new Gauge({
    name: 'iocluster_ingress_consumer_pending',
    help: 'Streams ingress entries each consumer (app-node id) holds: handed to it, not acknowledged',
    labelNames: ['consumer'] as const,
    registers,
    async collect() {
      const view = await ingress();
      // Reset first: a consumer that holds nothing (or went away and was claimed from) drops out.
      this.reset();
      for (const { consumer, pending } of view.consumers) this.set({ consumer }, pending);
    },
  });
  return { ingress, watchRedis: base.watchRedis, serve: base.serve };
}
