import {
  decodeIngressJob,
  type IngressBacklog,
  type IngressConsumer,
  type IngressJob,
  type IngressPartitionBacklog,
  type Keys,
  type Logger,
  QUEUE_STATES,
  type RedisConnection,
  WireError,
} from '@iocluster/shared';
import { Queue, UnrecoverableError, Worker } from 'bullmq';

export interface BullmqIngressOptions {
  keys: Keys;
  /** BullMQ queues the ingress is split into (`INGRESS_PARTITIONS`); one worker each. */
  partitions: number;
  /**
   * Connection the workers share for their non-blocking commands (each opens its own blocking one),
   * opened when the consumer starts.
   */
  connection: () => RedisConnection;
  /** Connection the backlog readers use. */
  readerConnection: RedisConnection;
  /** Jobs run at once by the app-node, over all partitions. */
  concurrency: number;
  /**
   * Lock on a running job, renewed every half of it: a dead consumer's jobs run again once it expired
   * and a stalled check saw it, within `lockDurationMs + stalledIntervalMs`.
   */
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** Times a job may lose its worker before it is failed (and kept). */
  maxStalledCount: number;
  logger: Logger;
}

/**
 * The ingress consumer on BullMQ: one worker per partition. A job whose handler rejects is retried with
 * the backoff its producer gave it (ingress-queue.ts on the io-node), then kept as failed; a malformed
 * job is failed at once (UnrecoverableError). A dead consumer's jobs come back through BullMQ's stalled
 * check.
 */
/** The BullMQ consumer, which can also be abandoned as a process's death would. */
export interface BullmqIngressConsumer extends IngressConsumer {
  /**
   * Closes at once without waiting for the running jobs or renewing their locks: they are not
   * acknowledged, and other consumers run them again once the locks lapsed (what SIGKILL does; for
   * drills and tests). Idempotent, and `close` after it only waits for it.
   */
  abandon(): Promise<void>;
}

export function createBullmqIngressConsumer(options: BullmqIngressOptions): BullmqIngressConsumer {
  const { logger } = options;
  const partitions = options.keys.ingressPartitions(options.partitions);
  // The app-node's concurrency is shared by its partitions' workers, at least one job each.
  const concurrency = Math.max(1, Math.round(options.concurrency / partitions.length));
  // Read counts only; on a shared connection, which BullMQ leaves open when the queues close. Made on
  // first use: BullMQ opens a connection it is given, and nothing connects before start().
  let queues: Queue[] | undefined;
  const readers = (): Queue[] => {
    queues ??= partitions.map(({ name, bullPrefix }) => {
      const queue = new Queue(name, { connection: options.readerConnection, prefix: bullPrefix });
      // Connection errors are logged once by createRedis; BullMQ re-emits each of them here.
      queue.on('error', (err) => logger.debug({ err }, 'queue reader error'));
      return queue;
    });
    return queues;
  };
  let workers: Worker<unknown>[] = [];
  let held = 0;
  let closing: Promise<void> | undefined;

  return {
    async start(handler, hooks = {}) {
      if (workers.length > 0) throw new Error('ingress consumer already started');
      const connection = options.connection();
      workers = partitions.map(({ name, bullPrefix }) => {
        const worker = new Worker<unknown>(
          name,
          async (job) => {
            let data: IngressJob;
            try {
              data = decodeIngressJob(job.data);
            } catch (err) {
              logger.error({ err, jobId: job.id, queue: name }, 'malformed ingress job failed');
              hooks.onMalformed?.(job.id ?? '', err);
              throw new UnrecoverableError(err instanceof WireError ? err.message : String(err));
            }
            // attemptsStarted counts this run too; a stalled job's runs are counted there as well.
            const redelivered = Math.max(0, job.attemptsStarted - 1);
            held++;
            try {
              await handler({ id: job.id ?? '', job: data, redelivered });
            } finally {
              held--;
            }
          },
          {
            connection,
            prefix: bullPrefix,
            concurrency,
            lockDuration: options.lockDurationMs,
            stalledInterval: options.stalledIntervalMs,
            maxStalledCount: options.maxStalledCount,
            autorun: false,
          },
        );
        worker.on('error', (err) => logger.warn({ err, queue: name }, 'worker error'));
        worker.on('failed', (job, err) =>
          logger.error({ err, jobId: job?.id, queue: name }, 'ingress job failed'),
        );
        void worker.run().catch((err: unknown) => logger.error({ err, queue: name }, 'worker stopped'));
        return worker;
      });
      await Promise.all(workers.map((worker) => worker.waitUntilReady()));
    },
    running: () => !closing && workers.length > 0 && workers.every((worker) => worker.isRunning()),
    async backlog() {
      const all = await Promise.all(readers().map((queue) => queue.getJobCounts(...QUEUE_STATES)));
      const parts: IngressPartitionBacklog[] = all.map((counts, index) => ({
        index,
        waiting: counts.waiting ?? 0,
        active: counts.active ?? 0,
        delayed: counts.delayed ?? 0,
        failed: counts.failed ?? 0,
      }));
      const sum: IngressBacklog = { waiting: 0, active: 0, delayed: 0, failed: 0, partitions: parts };
      for (const part of parts) for (const state of QUEUE_STATES) sum[state] += part[state];
      return sum;
    },
    pending: () => held,
    close: () => shutdown(false),
    abandon: () => shutdown(true),
  };

  function shutdown(force: boolean): Promise<void> {
    closing ??= (async () => {
      await Promise.all(workers.map((worker) => worker.close(force)));
      await Promise.all((queues ?? []).map((queue) => queue.close()));
    })();
    return closing;
  }
}
