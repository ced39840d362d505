import { createKeys, type IngressPartition, type RedisConnection, settingDefaults } from '@iocluster/shared';
import { Queue } from 'bullmq';

/**
 * The one place tests look inside the ingress transports: how a job is written raw, where a job given
 * up on is kept, and how many jobs were added. A test about what the ingress does (malformed jobs,
 * batching, partitions) goes through here and runs on either transport.
 */
export type IngressTransport = 'streams' | 'bullmq';

/** Both transports, for `describe.each` where the transport is the point. */
export const INGRESS_TRANSPORTS: readonly IngressTransport[] = ['streams', 'bullmq'];

/** What a node runs on when given no transport (the settings table's default). */
export const DEFAULT_TRANSPORT: IngressTransport = settingDefaults('app-node').ingressTransport;

/** The field of a stream entry that holds the job's JSON (as the io-node writes it). */
const JOB_FIELD = 'j';

/** The part of a test cluster these helpers need (`setup()`'s `Cluster` has it). */
export interface IngressTarget {
  readonly prefix: string;
  readonly transport: IngressTransport;
  readonly redis: RedisConnection;
}

/** A job the ingress gave up on and keeps (a failed BullMQ job, or a Streams dead letter). */
export interface FailedJob {
  /** The job's id in the ingress: the BullMQ job id, or the stream entry id. */
  readonly id: string;
  /** Why, as kept with it. */
  readonly reason: string;
  /** The error's stable code where the transport keeps it (the dead letter does; BullMQ keeps a text). */
  readonly code?: string;
}

function partitionOf(target: IngressTarget, index: number, partitions: number): IngressPartition {
  return createKeys(target.prefix).ingressPartitions(partitions)[index]!;
}

function queueOf(target: IngressTarget, partition: IngressPartition): Queue {
  return new Queue(partition.name, { connection: target.redis, prefix: partition.bullPrefix });
}

const RAW = Symbol('raw stream entry');

/** For `streams` only: an entry's field holding `text` as it is (not even JSON). */
export function rawEntry(text: string): { readonly [RAW]: string } {
  return { [RAW]: text };
}

/**
 * Adds raw jobs to one ingress partition as the transport carries them, bypassing every encoder: each
 * `data` is what a job holds (any JSON value, malformed jobs included), or a {@link rawEntry}. Resolves
 * with the jobs' ids, in order.
 */
export async function injectRawJobs(
  target: IngressTarget,
  jobs: readonly unknown[],
  options: { partition?: number; partitions?: number } = {},
): Promise<string[]> {
  const partition = partitionOf(target, options.partition ?? 0, options.partitions ?? 1);
  if (target.transport === 'streams') {
    const encode = (data: unknown) => (isRaw(data) ? data[RAW] : (JSON.stringify(data) ?? 'undefined'));
    const pipeline = target.redis.pipeline();
    for (const data of jobs) pipeline.xadd(partition.stream, '*', JOB_FIELD, encode(data));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, id]) => {
      if (err) throw err;
      return String(id);
    });
  }
  if (jobs.some(isRaw)) throw new TypeError('a raw entry is for the streams transport only');
  const queue = queueOf(target, partition);
  try {
    const added = await queue.addBulk(jobs.map((data) => ({ name: 'events', data: data as object })));
    return added.map((job) => job.id!);
  } finally {
    await queue.close();
  }
}

function isRaw(data: unknown): data is { [RAW]: string } {
  return typeof data === 'object' && data !== null && RAW in data;
}

/** Jobs given up on and kept: BullMQ's failed ingress jobs, or the Streams ingress's dead letters. */
export async function failedJobs(
  target: IngressTarget,
  options: { partitions?: number } = {},
): Promise<FailedJob[]> {
  const keys = createKeys(target.prefix);
  if (target.transport === 'streams') {
    const queue = new Queue(keys.deadLetterQueue, {
      connection: target.redis,
      prefix: keys.bullPrefix,
    });
    try {
      const letters = await queue.getFailed(0, -1);
      return letters.map((job) => ({
        id: String(job.data.entry),
        reason: job.failedReason,
        ...(job.data.error?.code ? { code: String(job.data.error.code) } : {}),
      }));
    } finally {
      await queue.close();
    }
  }
  const out: FailedJob[] = [];
  for (const partition of keys.ingressPartitions(options.partitions ?? 1)) {
    const queue = queueOf(target, partition);
    try {
      for (const job of await queue.getFailed(0, -1)) out.push({ id: job.id!, reason: job.failedReason });
    } finally {
      await queue.close();
    }
  }
  return out;
}

/**
 * Jobs ever added to each ingress partition (what was enqueued, however many ran or were trimmed since):
 * a stream's `entries-added`, or a BullMQ queue's id counter.
 */
export async function jobsAdded(target: IngressTarget, partitions = 1): Promise<number[]> {
  return Promise.all(
    createKeys(target.prefix)
      .ingressPartitions(partitions)
      .map(async (partition) => {
        if (target.transport === 'bullmq') {
          return Number((await target.redis.get(`${partition.bullPrefix}:${partition.name}:id`)) ?? 0);
        }
        if ((await target.redis.exists(partition.stream)) === 0) return 0;
        const info = (await target.redis.xinfo('STREAM', partition.stream)) as unknown[];
        const at = info.indexOf('entries-added');
        if (at < 0) throw new Error('XINFO STREAM has no entries-added (Redis < 7)');
        return Number(info[at + 1]);
      }),
  );
}
