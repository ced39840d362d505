import type { ServerResponse } from 'node:http';
import { Counter, collectDefaultMetrics, Registry } from 'prom-client';
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
