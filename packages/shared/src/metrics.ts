import type { ServerResponse } from 'node:http';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { RedisConnection } from './redis.js';

/**
 * The metrics every iocluster process exposes, on a registry of its own (not prom-client's global one, so
 * several nodes in one process, as in the tests, keep separate counts): prom-client's default process
 * metrics and `iocluster_redis_reconnects_total`. A package's own metrics module adds its metrics to
 * `registry`.
 */
export interface ProcessMetrics {
  readonly registry: Registry;
  /** Counts the connection's reconnect attempts (ioredis `reconnecting`) under `role`; returns the remover. */
  watchRedis(connection: RedisConnection, role: string): () => void;
  /** Writes the Prometheus text exposition to `res`. */
  serve(res: ServerResponse): Promise<void>;
}

/** Creates the registry of one process (or one node, when several share a process). */
export function createProcessMetrics(): ProcessMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const reconnects = new Counter({
    name: 'iocluster_redis_reconnects_total',
    help: 'Reconnect attempts of this process’s Redis connections, by connection role',
    labelNames: ['role'] as const,
    registers: [registry],
  });
  return {
    registry,
    watchRedis(connection, role) {
      reconnects.inc({ role }, 0);
      const onReconnecting = () => reconnects.inc({ role });
      connection.on('reconnecting', onReconnecting);
      return () => connection.off('reconnecting', onReconnecting);
    },
    async serve(res) {
      try {
        const text = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
        res.end(text);
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`metrics collection failed: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    },
  };
}

/**
 * A value read at most once per `maxAgeMs` (a gauge's `collect()` that costs a Redis round trip, so that
 * several scrapers at once cost one read). A failed read is retried at the next call.
 */
export function cachedReader<T>(read: () => Promise<T>, maxAgeMs: number): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at >= maxAgeMs) {
      const value = read();
      last = { at: now, value };
      value.catch(() => {
        if (last?.value === value) last = undefined;
      });
    }
    return last.value;
  };
}

/** BullMQ job states the ingress queue gauge reports. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** Several scrapers (and the admin view's polls) cost one queue read per this long. */
const QUEUE_READ_MAX_AGE_MS = 1_000;

/**
 * `iocluster_queue_jobs{state}` on `registry`, read through a short cache; returns that cached reader,
 * for whatever else in the process shows the counts (the frontend's admin view).
 */
export function queueJobsGauge<T extends Partial<Record<QueueState, number>>>(
  registry: Registry,
  read: () => Promise<T>,
): () => Promise<T> {
  const cached = cachedReader(read, QUEUE_READ_MAX_AGE_MS);
  new Gauge({
    name: 'iocluster_queue_jobs',
    help: 'Jobs in the ingress queue by state (the same value from every process that reports it)',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const counts = await cached();
      for (const state of QUEUE_STATES) this.set({ state }, counts[state] ?? 0);
    },
  });
  return cached;
}
