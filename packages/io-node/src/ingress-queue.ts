import {
  type IngressJob,
  type IngressProducer,
  ingressPartitionOf,
  isTransientRedisError,
  type Keys,
  type Logger,
  type RedisConnection,
  type ReplicaWait,
  waitForReplicas,
} from '@iocluster/shared';
import { Queue } from 'bullmq';

export type { IngressProducer } from '@iocluster/shared';

/** Failed jobs kept for inspection; completed jobs are removed at once. */
const KEEP_FAILED_JOBS = 10_000;
const defaultJobOptions = {
  removeOnComplete: true,
  removeOnFail: { count: KEEP_FAILED_JOBS },
  // A job fails only when its app-node could not publish its commands (Redis trouble), not when a
  // handler throws; retrying it then is what at-least-once asks for. Retries back off from 250 ms to
  // 16 s, ~32 s in all: longer than a Redis Cluster takes to promote a replica of a dead primary
  // (cluster-node-timeout, 15 s by default, plus an election), a Sentinel failover, a Redis restart or
  // replicas resyncing (no WAIT succeeds while the only replica reloads): 3 tries 500 ms apart gave up
  // first and lost the job's messages (test/redis-cluster-failover.test.ts, test/sentinel.test.ts).
  attempts: 8,
  backoff: { type: 'exponential', delay: 250 },
} as const;
const RETRY_DELAY_MS = 250;
const MAX_RETRY_DELAY_MS = 5_000;

export interface IngressProducerOptions {
  /**
   * Queues the ingress is split into (`INGRESS_PARTITIONS`): a job holding clients of several partitions
   * is split into one job per partition. @defaultValue 1
   */
  partitions?: number;
  /**
   * Runs before the first add after the connection to Redis dropped and came back (a failure fails the
   * add, which is retried): the io-node checks its inbox survived, so the answers to the jobs it is
   * about to add can reach it.
   */
  afterReconnect?: () => Promise<void>;
  /** Replicas that must have the jobs before `add` resolves; too few in time is retried like an outage. */
  replicaWait?: ReplicaWait;
}

/**
 * The ingress producer on BullMQ: one queue per partition, a job holding clients of several partitions
 * split into one job per partition; transient failures retried until Redis (and the replicas asked for)
 * took the jobs.
 */
export function createIngressProducer(
  connection: RedisConnection,
  keys: Keys,
  logger: Logger,
  options: IngressProducerOptions = {},
): IngressProducer {
  const partitions = keys.ingressPartitions(options.partitions ?? 1);
  // Made with the node, before it listens: BullMQ connects at once, so the queues leave their meta hash to
  // the first add (and the frontend's readers), and a start that fails (a port in use) writes nothing.
  const queues = partitions.map(
    ({ name, bullPrefix }) =>
      new Queue<IngressJob>(name, {
        connection,
        prefix: bullPrefix,
        defaultJobOptions,
        skipMetasUpdate: true,
      }),
  );
  // BullMQ re-emits every retry of a connection error, which createRedis already logged once.
  for (const queue of queues) {
    queue.on('error', (err) =>
      isTransientRedisError(err)
        ? logger.debug({ err }, 'ingress queue connection error')
        : logger.warn({ err }, 'ingress queue error'),
    );
  }
  let closed = false;
  let reconnected = false;
  const onClose = () => {
    reconnected = true;
  };
  connection.on('close', onClose);

  /** Each job's batches grouped by their client's partition; presence-only jobs go to partition 0. */
  function split(jobs: readonly IngressJob[]): { name: string; data: IngressJob }[][] {
    const bulks = queues.map((): { name: string; data: IngressJob }[] => []);
    if (queues.length === 1) {
      for (const data of jobs) bulks[0]!.push({ name: 'events', data });
      return bulks;
    }
    for (const job of jobs) {
      const { presence, batches, ...envelope } = job;
      const parts = new Map<number, IngressJob>();
      for (const batch of batches) {
        const index = ingressPartitionOf(batch.client.id, queues.length);
        const part = parts.get(index);
        if (part) part.batches.push(batch);
        else parts.set(index, { ...envelope, batches: [batch] });
      }
      // A job's presence changes ride with its first part, or alone in partition 0.
      if (presence) {
        const first = parts.values().next().value;
        if (first) first.presence = presence;
        else parts.set(0, { ...envelope, batches: [], presence });
      }
      for (const [index, data] of parts) bulks[index]!.push({ name: 'events', data });
    }
    return bulks;
  }

  async function add(jobs: readonly IngressJob[]): Promise<void> {
    const bulks = split(jobs);
    for (let attempt = 0; ; attempt++) {
      try {
        if (reconnected && options.afterReconnect) {
          reconnected = false;
          try {
            await options.afterReconnect();
          } catch (err) {
            reconnected = true;
            throw err;
          }
        }
        // Partitions that already took their jobs are not asked again on a retry.
        await Promise.all(
          bulks.map(async (bulk, i) => {
            if (bulk.length === 0) return;
            await queues[i]!.addBulk(bulk);
            bulks[i] = [];
          }),
        );
        // On the connection that added them: WAIT covers this client's own writes.
        await waitForReplicas(connection, options.replicaWait);
        return;
      } catch (err) {
        // A job JSON cannot encode (a RangeError from a too-deep value) never gets in: retrying would spin.
        if (closed || err instanceof RangeError || err instanceof TypeError) throw err;
        const delay = Math.min(RETRY_DELAY_MS * 2 ** attempt, MAX_RETRY_DELAY_MS);
        const events = jobs.reduce((n, job) => n + job.batches.reduce((m, b) => m + b.events.length, 0), 0);
        const fields = { err, attempt, events, retryInMs: delay };
        if (isTransientRedisError(err)) logger.warn(fields, 'could not enqueue client events; retrying');
        else logger.error(fields, 'could not enqueue client events; retrying');
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
  }

  return {
    add,
    async waiting() {
      const counts = await Promise.all(queues.map((queue) => queue.getWaitingCount()));
      return counts.reduce((sum, n) => sum + n, 0);
    },
    async close() {
      closed = true;
      connection.off('close', onClose);
      await Promise.all(queues.map((queue) => queue.close()));
    },
  };
}
