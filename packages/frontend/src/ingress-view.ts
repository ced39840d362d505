import { INGRESS_GROUP, type Keys, type RedisConnection, readStreamGroup } from '@iocluster/shared';
import { Queue } from 'bullmq';

/** Counts of the whole ingress, by BullMQ's state names (see {@link IngressView} for each transport's). */
export interface QueueCounts {
  readonly waiting: number;
  readonly active: number;
  readonly delayed: number;
  readonly failed: number;
}

/** One ingress partition as the admin view and the gauges show it. */
export interface IngressPartitionView {
  readonly index: number;
  /** The partition's Redis Stream (`streams`) or BullMQ queue name (`bullmq`). */
  readonly key: string;
  /** Streams: the group's lag (entries not yet handed out). BullMQ: waiting jobs. */
  readonly waiting: number;
  /** Streams: entries handed out and not acknowledged (the pending list). BullMQ: active jobs. */
  readonly active: number;
  /** BullMQ: delayed jobs (0 with Streams, which retry by redelivery). */
  readonly delayed: number;
  /** BullMQ: failed jobs kept (with Streams, dead letters are counted for the whole ingress). */
  readonly failed: number;
  /** Streams: entries in the stream (acknowledged ones stay until trimmed); null with BullMQ. */
  readonly length: number | null;
  /** Streams: entries the group has read (XINFO GROUPS `entries-read`); null with BullMQ or unknown. */
  readonly entriesRead: number | null;
}

/** Entries one consumer of the Streams group holds: handed to it, not acknowledged yet. */
export interface IngressConsumerView {
  /** The consumer's name in the group: the id of the app-node (or app-node worker) reading. */
  readonly consumer: string;
  /** Its pending entries over every partition. */
  readonly pending: number;
}

/** The ingress as a whole, per partition and, with Streams, per consumer. */
export interface IngressView extends QueueCounts {
  readonly transport: 'streams' | 'bullmq';
  readonly partitions: readonly IngressPartitionView[];
  /** Streams: every consumer holding entries, by name; empty with BullMQ (its locks name no worker). */
  readonly consumers: readonly IngressConsumerView[];
}

export interface IngressReader {
  /** Reads the ingress once (callers cache: it costs a few commands per partition). */
  read(): Promise<IngressView>;
  /** The BullMQ queues bull-board shows: the dead letters (`streams`), the ingress queues (`bullmq`). */
  readonly queues: readonly Queue[];
  close(): Promise<void>;
}

/** `XPENDING <stream> <group>`: count, smallest and greatest id, and `[consumer, count]` pairs. */
type PendingSummary = [number, string | null, string | null, [string, string][] | null];

/**
 * Reads what the admin view and the frontend's gauges show of the ingress, on `connection` (the
 * frontend's command connection; not closed here). With Streams, each partition's group (lag, pending,
 * entries read), its length and the pending entries of each consumer, plus the dead letters kept; with
 * BullMQ, each queue's job counts.
 */
export function createIngressReader(options: {
  transport: 'streams' | 'bullmq';
  keys: Keys;
  partitions: number;
  connection: RedisConnection;
}): IngressReader {
  const { keys, connection, transport } = options;
  const partitions = keys.ingressPartitions(options.partitions);
  const queues =
    transport === 'streams'
      ? [new Queue(keys.deadLetterQueue, { connection, prefix: keys.bullPrefix })]
      : partitions.map(({ name, bullPrefix }) => new Queue(name, { connection, prefix: bullPrefix }));

  async function readStreams(): Promise<IngressView> {
    const [parts, failed] = await Promise.all([
      Promise.all(
        partitions.map(async ({ index, stream }) => {
          const [group, length, pending] = await Promise.all([
            readStreamGroup(connection, stream),
            connection.xlen(stream),
            connection.xpending(stream, INGRESS_GROUP).catch((err: unknown) => {
              // No group yet (nothing written or read so far): nobody holds anything.
              if (err instanceof Error && err.message.startsWith('NOGROUP')) return [0, null, null, null];
              throw err;
            }) as Promise<PendingSummary>,
          ]);
          const view: IngressPartitionView = {
            index,
            key: stream,
            waiting: group.lag,
            active: group.pending,
            delayed: 0,
            failed: 0,
            length,
            entriesRead: group.entriesRead,
          };
          return { view, holders: pending[3] ?? [] };
        }),
      ),
      queues[0]!.getFailedCount(),
    ]);
    const held = new Map<string, number>();
    for (const { holders } of parts)
      for (const [consumer, count] of holders) held.set(consumer, (held.get(consumer) ?? 0) + Number(count));
    return summed(
      parts.map((p) => p.view),
      [...held].map(([consumer, pending]) => ({ consumer, pending })),
      failed,
    );
  }

  async function readQueues(): Promise<IngressView> {
    const parts = await Promise.all(
      partitions.map(async ({ index, name }) => {
        const counts = await queues[index]!.getJobCounts('waiting', 'active', 'delayed', 'failed');
        const view: IngressPartitionView = {
          index,
          key: name,
          waiting: counts.waiting ?? 0,
          active: counts.active ?? 0,
          delayed: counts.delayed ?? 0,
          failed: counts.failed ?? 0,
          length: null,
          entriesRead: null,
        };
        return view;
      }),
    );
    return summed(
      parts,
      [],
      parts.reduce((n, p) => n + p.failed, 0),
    );
  }

  function summed(
    parts: IngressPartitionView[],
    consumers: IngressConsumerView[],
    failed: number,
  ): IngressView {
    const sum = (pick: (p: IngressPartitionView) => number) => parts.reduce((n, p) => n + pick(p), 0);
    return {
      transport,
      waiting: sum((p) => p.waiting),
      active: sum((p) => p.active),
      delayed: sum((p) => p.delayed),
      failed,
      partitions: parts,
      consumers: consumers.sort((a, b) => a.consumer.localeCompare(b.consumer)),
    };
  }

  return {
    read: transport === 'streams' ? readStreams : readQueues,
    queues,
    async close() {
      await Promise.allSettled(queues.map((queue) => queue.close()));
    },
  };
}
