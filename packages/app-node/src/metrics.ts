import type { ServerResponse } from 'node:http';
import {
  createProcessMetrics,
  createRateMeter,
  type QueueState,
  queueJobsGauge,
  type RedisConnection,
} from '@iocluster/shared';
import { Counter, Histogram } from 'prom-client';
import type { ClientStateSource } from './client-cache.js';

/** Outcomes of an ingress job on this app-node. */
export type JobResult = 'completed' | 'failed';

/**
 * An app-node's Prometheus metrics (see docs/operations.md), on a registry of the node's own, plus the
 * counts its registry heartbeat reports.
 */
export interface AppNodeMetrics {
  /** An ingress job finished. */
  job(result: JobResult): void;
  /** The handler of `event` (middleware included) took `seconds`. */
  handled(event: string, seconds: number): void;
  /** A client event found no handler. */
  unhandled(): void;
  /** Where the state of one batch's client came from. */
  clientState(source: ClientStateSource): void;
  /** Jobs and events finished per second over the last few seconds (for the registry record). */
  rates(): { jobsPerSecond: number; eventsPerSecond: number };
  /** Counts the connection's reconnects; returns the remover. */
  watchRedis(connection: RedisConnection, role: string): () => void;
  /** Answers `GET /metrics`. */
  serve(res: ServerResponse): Promise<void>;
}

export interface AppNodeMetricsOptions {
  /** Whether `event` has a registered handler: other names are counted as `other`, so labels stay bounded. */
  isRegistered(event: string): boolean;
  /** Job counts of the ingress queue by state (BullMQ `Queue.getJobCounts`), read at scrape time. */
  queueCounts(): Promise<Partial<Record<QueueState, number>>>;
}

/** Handler times from a fraction of a ms to the default 25 s handler timeout. */
const HANDLER_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25];

export function createAppNodeMetrics(options: AppNodeMetricsOptions): AppNodeMetrics {
  const base = createProcessMetrics();
  const registers = [base.registry];
  const jobs = new Counter({
    name: 'iocluster_app_jobs_total',
    help: 'Ingress jobs finished by this app-node, by result',
    labelNames: ['result'] as const,
    registers,
  });
  const handlerSeconds = new Histogram({
    name: 'iocluster_app_handler_seconds',
    help: 'Time in middleware and handler per client event, by event name (unregistered names: other)',
    labelNames: ['event'] as const,
    buckets: HANDLER_BUCKETS,
    registers,
  });
  const unhandled = new Counter({
    name: 'iocluster_app_unhandled_events_total',
    help: 'Client events no handler was registered for (dropped; an ack among them got NO_HANDLER)',
    registers,
  });
  const clientStates = new Counter({
    name: 'iocluster_app_client_states_total',
    help: "Where the state of each batch's client came from: job, cache, redis, or missing (sent again by its io-node)",
    labelNames: ['source'] as const,
    registers,
  });
  const statesBySource = new Map(
    (['job', 'cache', 'redis', 'missing'] as const).map((source) => [
      source,
      clientStates.labels({ source }),
    ]),
  );
  for (const child of statesBySource.values()) child.inc(0);
  queueJobsGauge(base.registry, options.queueCounts);
  // Children kept, so counting a job or an event skips prom-client's label lookup.
  const jobsByResult = new Map(
    (['completed', 'failed'] as const).map((result) => [result, jobs.labels({ result })] as const),
  );
  for (const child of jobsByResult.values()) child.inc(0);
  const handlerByEvent = new Map<string, ReturnType<typeof handlerSeconds.labels>>();
  const handlerChild = (event: string) => {
    let child = handlerByEvent.get(event);
    if (!child) {
      child = handlerSeconds.labels({ event });
      handlerByEvent.set(event, child);
    }
    return child;
  };
  const jobRate = createRateMeter();
  const eventRate = createRateMeter();

  return {
    job(result) {
      jobsByResult.get(result)!.inc();
      jobRate.mark();
    },
    handled(event, seconds) {
      handlerChild(options.isRegistered(event) ? event : 'other').observe(seconds);
      eventRate.mark();
    },
    unhandled: () => unhandled.inc(),
    clientState: (source) => statesBySource.get(source)!.inc(),
    rates: () => ({ jobsPerSecond: jobRate.perSecond(), eventsPerSecond: eventRate.perSecond() }),
    watchRedis: base.watchRedis,
    serve: base.serve,
  };
}
