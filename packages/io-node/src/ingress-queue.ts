import {
  connectionGeneration,
  eventsIn,
  INGRESS_MAX_RUNS,
  type IngressJob,
  type IngressPartition,
  type IngressProducer,
  isTransientRedisError,
  type Keys,
  type Logger,
  type RedisConnection,
  type ReplicaWait,
  splitByPartition,
  waitForReplicas,
  waitsForReplicas,
} from '@iocluster/shared';
import { Queue } from 'bullmq';

export type { IngressProducer } from '@iocluster/shared';

/** Failed jobs kept for inspection; completed jobs are removed at once. */
const KEEP_FAILED_JOBS = 10_000;
const defaultJobOptions = {
  removeOnComplete: true,
  removeOnFail: { count: KEEP_FAILED_JOBS },
  // A job fails only when its app-node could not publish its commands (Redis trouble), not when a
  // handler throws; retrying it then is what at-least-once asks for (see INGRESS_MAX_RUNS).
  attempts: INGRESS_MAX_RUNS,
  backoff: { type: 'exponential', delay: 250 },
} as const;
const RETRY_DELAY_MS = 250;
const MAX_RETRY_DELAY_MS = 5_000;

export interface IngressProducerOptions {
  /**
   * Partitions the ingress is split into (`INGRESS_PARTITIONS`): a job holding clients of several
   * partitions is split into one job per partition. @defaultValue 1
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

/** How one transport writes a partition's jobs and counts what waits: the rest is the same for all. */
export interface PartitionWriter {
  /** Writes `jobs` (all of one partition) in order; resolves once Redis has them. */
  write(partition: IngressPartition, jobs: readonly IngressJob[]): Promise<void>;
  /** Jobs waiting for a consumer in one partition. */
  waiting(partition: IngressPartition): Promise<number>;
  /** Runs after a reconnect, before the first write (a stream's consumer group made again, say). */
  afterReconnect?(partitions: readonly IngressPartition[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * An ingress producer over a {@link PartitionWriter}: jobs split by partition, transient failures
 * retried (backing off up to 5 s) until Redis, and the replicas asked for, took them; partitions that
 * took their jobs are not asked again on a retry.
 */
export function createPartitionedProducer(
  connection: RedisConnection,
  keys: Keys,
  logger: Logger,
  options: IngressProducerOptions,
  writer: PartitionWriter,
): IngressProducer {
  const partitions = keys.ingressPartitions(options.partitions ?? 1);
  let closed = false;
  // The connection's generation the after-reconnect checks last ran for (none needed for the first).
  let checked = connectionGeneration(connection);

  async function add(jobs: readonly IngressJob[]): Promise<void> {
    const all = splitByPartition(jobs, partitions.length);
    const parts = [...all];
    const waits = waitsForReplicas(options.replicaWait);
    // The connection's generation when the writes the replica wait is to cover began.
    let since: number | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        const generation = connectionGeneration(connection);
        // Writes made before the connection closed may be on a server a failover left behind: with
        // replica waits on, they count only once replicas have them, so all are written again.
        if (since !== undefined && since !== generation && waits) parts.splice(0, parts.length, ...all);
        since = generation;
        if (checked !== generation) {
          const previous = checked;
          checked = generation;
          try {
            await writer.afterReconnect?.(partitions);
            await options.afterReconnect?.();
          } catch (err) {
            checked = previous;
            throw err;
          }
        }
        await Promise.all(
          parts.map(async (part, i) => {
            if (part.length === 0) return;
            await writer.write(partitions[i]!, part);
            parts[i] = [];
          }),
        );
        // On the connection that wrote them: WAIT covers this client's own writes.
        await waitForReplicas(connection, options.replicaWait, since);
        return;
      } catch (err) {
        // A job JSON cannot encode (a RangeError from a too-deep value) never gets in: retrying would spin.
        if (closed || err instanceof RangeError || err instanceof TypeError) throw err;
        const delay = Math.min(RETRY_DELAY_MS * 2 ** attempt, MAX_RETRY_DELAY_MS);
        const fields = { err, attempt, events: eventsIn(jobs), retryInMs: delay };
        if (isTransientRedisError(err)) logger.warn(fields, 'could not enqueue client events; retrying');
        else logger.error(fields, 'could not enqueue client events; retrying');
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
  }

  return {
    add,
    async waiting() {
      const counts = await Promise.all(partitions.map((partition) => writer.waiting(partition)));
      return counts.reduce((sum, n) => sum + n, 0);
    },
    async close() {
      closed = true;
      await writer.close();
    },
  };
}

/**
 * The ingress producer on BullMQ: one queue per partition (`INGRESS_TRANSPORT=bullmq`), each job retried
 * by BullMQ with the backoff above when its app-node could not publish its commands.
 */
export function createIngressProducer(
  connection: RedisConnection,
  keys: Keys,
  logger: Logger,
  options: IngressProducerOptions = {},
): IngressProducer {
  // Made with the node, before it listens: BullMQ connects at once, so the queues leave their meta hash to
  // the first add (and the frontend's readers), and a start that fails (a port in use) writes nothing.
  const queues = new Map(
    keys.ingressPartitions(options.partitions ?? 1).map(({ name, bullPrefix }) => [
      name,
      new Queue<IngressJob>(name, {
        connection,
        prefix: bullPrefix,
        defaultJobOptions,
        skipMetasUpdate: true,
      }),
    ]),
  );
  // BullMQ re-emits every retry of a connection error, which createRedis already logged once.
  for (const queue of queues.values()) {
    queue.on('error', (err) =>
      isTransientRedisError(err)
        ? logger.debug({ err }, 'ingress queue connection error')
        : logger.warn({ err }, 'ingress queue error'),
    );
  }
  return createPartitionedProducer(connection, keys, logger, options, {
    async write(partition, jobs) {
      await queues.get(partition.name)!.addBulk(jobs.map((data) => ({ name: 'events', data })));
    },
    waiting: (partition) => queues.get(partition.name)!.getWaitingCount(),
    async close() {
      await Promise.all([...queues.values()].map((queue) => queue.close()));
    },
  });
}
