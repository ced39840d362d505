import type { IngressJob, Keys, Logger, RedisConnection } from '@iocluster/shared';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import type { DeadLetter, DeadLetterSink } from './stream-ingress-consumer.js';

/** Dead letters kept; the oldest go past it. */
const KEEP_DEAD_LETTERS = 10_000;
/** The field of a stream entry that holds the job's JSON (as the io-node writes it). */
const JOB_FIELD = 'j';

/** What a dead-letter job carries: the event and why it was given up on. */
export interface DeadLetterData {
  /** The ingress stream and entry it came from. */
  stream: string;
  entry: string;
  /** The job, when it decoded; retrying it puts it back into `stream`. */
  job?: IngressJob;
  /** The raw entry, when it did not decode (such a letter cannot be retried). */
  raw?: string;
  error: { name: string; message: string; code?: string };
  deliveries: number;
}

/**
 * Dead letters as failed BullMQ jobs: an ingress entry given up on becomes a job of the `dead-letters`
 * queue that fails at once with the entry's error, so it sits among the failed jobs in bull-board
 * with the event and the error. Retrying it there (bull-board's "retry", or `job.retry()`) runs it
 * again: a retried letter puts its job back at the end of its ingress stream, where any app-node
 * runs it (at-least-once, as any redelivery).
 */
export interface DeadLetters extends DeadLetterSink {
  /** Starts the worker that fails new letters and requeues retried ones. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createDeadLetters(options: {
  keys: Keys;
  /** For the queue and for requeueing into the ingress stream (non-blocking). */
  connection: RedisConnection;
  /** For the worker's blocking reads. */
  blockingConnection: RedisConnection;
  logger: Logger;
}): DeadLetters {
  const { keys, connection, logger } = options;
  // Made in start(): BullMQ connects a queue as soon as it exists, and nothing connects before start().
  let queue: Queue<DeadLetterData> | undefined;
  let worker: Worker<DeadLetterData> | undefined;

  async function process(job: { attemptsMade: number; data: DeadLetterData }) {
    const { data } = job;
    // First run: a new letter. It fails with its entry's error, which is what keeps it, visibly.
    if (job.attemptsMade === 0) throw new UnrecoverableError(`${data.error.name}: ${data.error.message}`);
    if (!data.job) throw new UnrecoverableError('a malformed entry cannot be retried');
    const id = await connection.xadd(data.stream, '*', JOB_FIELD, JSON.stringify(data.job));
    logger.info(
      { stream: data.stream, entry: data.entry, requeued: id },
      'dead letter retried into the ingress',
    );
    return { requeued: id };
  }

  return {
    count: async () => (queue ? queue.getFailedCount() : 0),
    async bury(letter: DeadLetter) {
      const { error } = letter;
      const data: DeadLetterData = {
        stream: letter.partition,
        entry: letter.id,
        error: {
          name: error.name,
          message: error.message,
          // A JSON that does not parse is as malformed as one the decoder refuses (WIRE_INVALID).
          ...(typeof (error as { code?: unknown }).code === 'string'
            ? { code: (error as unknown as { code: string }).code }
            : error instanceof SyntaxError
              ? { code: 'WIRE_INVALID' }
              : {}),
        },
        deliveries: letter.deliveries,
      };
      if (letter.job) data.job = letter.job;
      if (letter.raw !== undefined) data.raw = letter.raw;
      // One letter per entry, however often the consumer that buries it is itself retried (BullMQ job
      // ids may not hold ':').
      if (!queue) throw new Error('dead letters not started');
      await queue.add('dead-letter', data, {
        jobId: `${letter.partition}|${letter.id}`.replaceAll(':', '|'),
      });
      logger.error(
        { err: error, stream: letter.partition, entry: letter.id, deliveries: letter.deliveries },
        'ingress entry given up on: kept as a dead letter (retry it from the admin view)',
      );
    },
    async start() {
      queue = new Queue<DeadLetterData>(keys.deadLetterQueue, {
        connection,
        prefix: keys.bullPrefix,
        defaultJobOptions: {
          attempts: 1,
          removeOnComplete: true,
          removeOnFail: { count: KEEP_DEAD_LETTERS },
        },
      });
      queue.on('error', (err) => logger.debug({ err }, 'dead-letter queue error'));
      worker = new Worker<DeadLetterData>(keys.deadLetterQueue, process, {
        connection: options.blockingConnection,
        prefix: keys.bullPrefix,
        concurrency: 1,
      });
      worker.on('error', (err) => logger.warn({ err }, 'dead-letter worker error'));
      await worker.waitUntilReady();
    },
    async close() {
      await Promise.allSettled([worker?.close(), queue?.close()]);
    },
  };
}
