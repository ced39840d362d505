import {
  type IngressJob,
  type Keys,
  type Logger,
  QUEUE_STATES,
  type QueueState,
  type RedisConnection,
} from '@iocluster/shared';
import { Queue, Worker } from 'bullmq';

/** The app-node's consumers of the ingress: one BullMQ worker per partition (`INGRESS_PARTITIONS`). */
export interface IngressWorkers {
  /** Starts every partition's worker; resolves once each is connected. */
  start(): Promise<void>;
  /** Every worker is running. */
  running(): boolean;
  /** Job counts of every partition, added up by state (for the queue gauge). */
  counts(): Promise<Partial<Record<QueueState, number>>>;
  /** Closes the workers (their current jobs finish first), then the count readers. Idempotent. */
  close(): Promise<void>;
}

export interface IngressWorkersOptions {
  keys: Keys;
  partitions: number;
  /** Runs one job; a throw fails it (retried by BullMQ as its options say). */
  process(job: { id?: string; data: IngressJob }): Promise<void>;
  /** Connection the workers share for their non-blocking commands; each opens its own blocking one. */
  connection: () => RedisConnection;
  /** Connection the count readers use. */
  readerConnection: RedisConnection;
  /** Jobs run at once by the app-node, over all partitions. */
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  onJob(result: 'completed' | 'failed'): void;
  logger: Logger;
}

export function createIngressWorkers(options: IngressWorkersOptions): IngressWorkers {
  const { logger } = options;
  const partitions = options.keys.ingressPartitions(options.partitions);
  // The app-node's concurrency is shared by its partitions' workers, at least one job each.
  const concurrency = Math.max(1, Math.round(options.concurrency / partitions.length));
  // Read counts only; on a shared connection, which BullMQ leaves open when the queues close.
  const queues = partitions.map(
    ({ name, bullPrefix }) => new Queue(name, { connection: options.readerConnection, prefix: bullPrefix }),
  );
  // Connection errors are logged once by createRedis; BullMQ re-emits each of them here.
  for (const queue of queues) queue.on('error', (err) => logger.debug({ err }, 'queue reader error'));
  let workers: Worker<IngressJob>[] = [];

  return {
    async start() {
      const connection = options.connection();
      workers = partitions.map(({ name, bullPrefix }) => {
        const worker = new Worker<IngressJob>(name, (job) => options.process(job), {
          connection,
          prefix: bullPrefix,
          concurrency,
          lockDuration: options.lockDurationMs,
          stalledInterval: options.stalledIntervalMs,
          maxStalledCount: options.maxStalledCount,
          autorun: false,
        });
        worker.on('error', (err) => logger.warn({ err, queue: name }, 'worker error'));
        worker.on('failed', (job, err) => {
          options.onJob('failed');
          logger.error({ err, jobId: job?.id, queue: name }, 'ingress job failed');
        });
        worker.on('completed', () => options.onJob('completed'));
        void worker.run().catch((err: unknown) => logger.error({ err, queue: name }, 'worker stopped'));
        return worker;
      });
      await Promise.all(workers.map((worker) => worker.waitUntilReady()));
    },
    running: () => workers.length > 0 && workers.every((worker) => worker.isRunning()),
    async counts() {
      const all = await Promise.all(queues.map((queue) => queue.getJobCounts(...QUEUE_STATES)));
      const sum: Partial<Record<QueueState, number>> = {};
      for (const counts of all) {
        for (const state of QUEUE_STATES) sum[state] = (sum[state] ?? 0) + (counts[state] ?? 0);
      }
      return sum;
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.close()));
      await Promise.all(queues.map((queue) => queue.close()));
    },
  };
}
