import {
  type IngressJob,
  isTransientRedisError,
  type Keys,
  type Logger,
  type RedisConnection,
  type ReplicaWait,
  waitForReplicas,
} from '@iocluster/shared';
import { Queue } from 'bullmq';

/** Producer side of the ingress queue: the io-node's only way of handing client events to app-nodes. */
export interface IngressProducer {
  /** Adds jobs; resolves once Redis has them. Retries transient failures so accepted events are not lost. */
  add(jobs: readonly IngressJob[]): Promise<void>;
  /** Jobs waiting in the queue for a worker (all io-nodes' together). */
  waiting(): Promise<number>;
  close(): Promise<void>;
}

/** Failed jobs kept for inspection; completed jobs are removed at once. */
const KEEP_FAILED_JOBS = 10_000;
const RETRY_DELAY_MS = 250;
const MAX_ATTEMPTS = 8;
const MAX_RETRY_DELAY_MS = 5_000;

export interface IngressProducerOptions {
  /**
   * Runs before the first add after the connection to Redis dropped and came back (a failure fails the
   * add, which is retried): the io-node checks its inbox survived, so the answers to the jobs it is
   * about to add can reach it.
   */
  afterReconnect?: () => Promise<void>;
  /** Replicas that must have the jobs before `add` resolves; too few in time is retried like an outage. */
  replicaWait?: ReplicaWait;
}

export function createIngressProducer(
  connection: RedisConnection,
  keys: Keys,
  logger: Logger,
  options: IngressProducerOptions = {},
): IngressProducer {
  const queue = new Queue<IngressJob>(keys.ingressQueue, {
    connection,
    prefix: keys.bullPrefix,
    defaultJobOptions: {
      removeOnComplete: true,
      removeOnFail: { count: KEEP_FAILED_JOBS },
      // A job fails only when its app-node could not publish its commands (Redis trouble), not when a
      // handler throws; retrying it then is what at-least-once asks for. Retries back off from 250 ms to
      // 16 s, ~32 s in all: longer than a Redis Cluster takes to promote a replica of a dead primary
      // (cluster-node-timeout, 15 s by default, plus an election), a Sentinel failover, a Redis restart or
      // replicas resyncing (no WAIT succeeds while the only replica reloads): 3 tries 500 ms apart gave up
      // first and lost the job's messages (test/redis-cluster-failover.test.ts, test/sentinel.test.ts).
      attempts: MAX_ATTEMPTS,
      backoff: { type: 'exponential', delay: 250 },
    },
  });
  queue.on('error', (err) => logger.warn({ err }, 'ingress queue error'));
  let closed = false;
  let reconnected = false;
  const onClose = () => {
    reconnected = true;
  };
  connection.on('close', onClose);

  async function add(jobs: readonly IngressJob[]): Promise<void> {
    const bulk = jobs.map((data) => ({ name: 'events', data }));
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
        await queue.addBulk(bulk);
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
    waiting: () => queue.getWaitingCount(),
    async close() {
      closed = true;
      connection.off('close', onClose);
      await queue.close();
    },
  };
}
