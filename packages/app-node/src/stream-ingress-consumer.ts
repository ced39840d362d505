import { setMaxListeners } from 'node:events';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  closeRedis,
  decodeIngressJob,
  ensureStreamGroup,
  INGRESS_GROUP,
  type IngressBacklog,
  type IngressConsumer,
  type IngressDelivery,
  type IngressHandler,
  type IngressHooks,
  type IngressJob,
  type IngressPartition,
  type IngressPartitionBacklog,
  isTransientRedisError,
  type Keys,
  type Logger,
  openRedis,
  type RedisConnection,
  type Repeating,
  readStreamGroup,
  repeat,
  WireError,
} from '@iocluster/shared';

/** The field of a stream entry that holds the job's JSON (as the io-node writes it). */
const JOB_FIELD = 'j';

/** Where a job given up on goes instead of being dropped (BullMQ's failed jobs, in the app-node). */
export interface DeadLetterSink {
  /** Keeps a letter; resolves once it is kept (the entry is acknowledged only then). */
  bury(letter: DeadLetter): Promise<void>;
  /** Letters kept and not retried: the backlog's `failed`. */
  count(): Promise<number>;
}

export interface DeadLetter {
  /** The stream entry's id and its partition. */
  id: string;
  partition: string;
  /** The job when it decoded; the raw field when it did not. */
  job: IngressJob | undefined;
  raw: string | undefined;
  /** Why: the last handler error, or the decoder's. */
  error: Error;
  /** Times it was handed out. */
  deliveries: number;
}

export interface StreamIngressOptions {
  keys: Keys;
  /** Streams the ingress is split into (`INGRESS_PARTITIONS`); one blocking reader each. */
  partitions: number;
  /** This consumer's name in the group: the app-node's id, unique among live app-nodes. */
  consumerName: string;
  /** Opens a connection for one partition's blocking reads; the consumer closes it. */
  connection: () => RedisConnection;
  /** Connection for acknowledgements, claims, renewals and reads of the backlog (not closed here). */
  readerConnection: RedisConnection;
  /** Jobs run at once by this consumer, over all partitions. */
  concurrency: number;
  /**
   * An entry handed out and not acknowledged for this long is claimed by another consumer (its consumer
   * is taken for dead); the holder renews its entries every third of it. @defaultValue 5000
   */
  leaseMs: number;
  /** How often a consumer looks for entries whose lease lapsed. */
  claimIntervalMs: number;
  /** Runs a job gets (handler failures and claims together) before it becomes a dead letter. */
  maxDeliveries: number;
  /** Where a job given up on goes; without one it is logged and acknowledged. */
  deadLetters?: DeadLetterSink;
  /** How long one blocking read waits: bounds how long `close()` waits for the readers. @defaultValue 2000 */
  blockMs?: number;
  logger: Logger;
}

/** The Streams consumer, which can also be abandoned as a process's death would. */
export interface StreamIngressConsumer extends IngressConsumer {
  /**
   * A reader connection that is between two reads, offered for this turn's delivery (the command
   * transport's `lane`): its writes are held until the next read is written after them, so a handler's
   * delivery and the next read go out in one write (one wake-up of Redis, one write syscall here, not
   * two). Offered only off a Redis Cluster, for the turn in which entries were taken; undefined otherwise.
   */
  lane(): RedisConnection | undefined;
  /**
   * Stops at once without acknowledging or renewing what it holds: other consumers claim it once the
   * lease lapsed (what SIGKILL does; for drills and tests). Idempotent.
   */
  abandon(): Promise<void>;
}

/** Handler failures back off from this, doubling, to at most 16 s: ~32 s over 8 runs (as BullMQ did). */
const RETRY_BASE_MS = 250;
const RETRY_MAX_MS = 16_000;
/** Trims and consumer clean-ups run at most this often. */
const HOUSEKEEPING_MS = 5_000;
/** A consumer with nothing pending, silent this long, is removed from the group (a restarted app-node). */
const STALE_CONSUMER_MS = 10 * 60_000;

type ReadReply = [stream: string, entries: [id: string, fields: string[] | null][]][] | null;

/**
 * The ingress consumer on Redis Streams: every app-node reads each partition's stream in one consumer
 * group (`XREADGROUP … COUNT <free slots> BLOCK`), so entries spread over app-nodes as competing
 * consumers. An entry is acknowledged (`XACK`, batched per turn) once its handler resolved, that is once
 * its commands were appended. A handler that rejects runs again here with a backoff while the entry
 * stays leased to this consumer (renewed with `XCLAIM … JUSTID`); entries whose consumer died are taken
 * by the others with `XAUTOCLAIM` once idle for the lease. After `maxDeliveries` runs a job becomes a
 * dead letter. Trimming removes only entries below the oldest pending one and the group's last delivery.
 */
export function createStreamIngressConsumer(options: StreamIngressOptions): StreamIngressConsumer {
  const { logger, readerConnection: redis, consumerName: me } = options;
  const partitions = options.keys.ingressPartitions(options.partitions);
  const blockMs = options.blockMs ?? 2_000;
  /** Entries held (running or retrying), per stream: what renewals cover. */
  const held = new Map<string, Set<string>>(partitions.map((p) => [p.stream, new Set<string>()]));
  const acks = new Map<string, string[]>();
  const readers: RedisConnection[] = [];
  const loops: Promise<void>[] = [];
  const running = new Set<Promise<void>>();
  const slotWaiters: (() => void)[] = [];
  let handler: IngressHandler | undefined;
  let hooks: IngressHooks = {};
  let holding = 0;
  let stopped = false;
  /** Ends the backoffs of failed entries when the consumer closes (they are left pending, for a claim). */
  const stopping = new AbortController();
  // One listener per entry in its backoff: up to `concurrency` at once, more than Node's default warning.
  setMaxListeners(0, stopping.signal);
  let abandoned = false;
  let ackScheduled = false;
  let closing: Promise<void> | undefined;
  let timers: Repeating[] = [];
  let housekept = 0;
  /** The reader offered as the lane for this turn's delivery, its socket corked until its next read. */
  let offered: RedisConnection | undefined;

  const free = () => options.concurrency - holding;
  function released(): void {
    holding--;
    slotWaiters.shift()?.();
  }
  async function slot(): Promise<void> {
    while (free() <= 0 && !stopped) await new Promise<void>((resolve) => slotWaiters.push(resolve));
  }

  function acknowledge(stream: string, id: string): void {
    const list = acks.get(stream) ?? [];
    list.push(id);
    acks.set(stream, list);
    if (ackScheduled) return;
    ackScheduled = true;
    setImmediate(() => void flushAcks());
  }

  async function flushAcks(): Promise<void> {
    ackScheduled = false;
    const batches = [...acks];
    acks.clear();
    await Promise.all(
      batches.map(async ([stream, ids]) => {
        try {
          await redis.xack(stream, INGRESS_GROUP, ...ids);
        } catch (err) {
          // Unacknowledged entries are claimed and run again after the lease: at-least-once holds.
          logger.warn({ err, stream, entries: ids.length }, 'acknowledging ingress entries failed');
        }
      }),
    );
  }

  /** Runs one entry to its end: acknowledged, given up on, or left to be claimed (closing). */
  async function run(partition: IngressPartition, id: string, fields: string[] | null, deliveries: number) {
    const { stream } = partition;
    held.get(stream)!.add(id);
    try {
      const at = fields?.indexOf(JOB_FIELD) ?? -1;
      const raw = at >= 0 ? fields?.[at + 1] : undefined;
      let job: IngressJob;
      try {
        job = decodeEntry(raw);
      } catch (err) {
        logger.error({ err, entry: id, stream }, 'malformed ingress entry: kept as a dead letter');
        hooks.onMalformed?.(id, err);
        await bury({ id, partition: stream, job: undefined, raw, error: asError(err), deliveries });
        return;
      }
      for (let runs = deliveries; ; runs++) {
        if (runs > options.maxDeliveries) {
          await bury({
            id,
            partition: stream,
            job,
            raw: undefined,
            error: new Error(`ran ${runs - 1} times`),
            deliveries: runs - 1,
          });
          return;
        }
        try {
          const delivery: IngressDelivery = {
            id,
            job,
            redelivered: runs - 1,
            acknowledgement: { stream, group: INGRESS_GROUP, id },
          };
          // The handler's last append may have acknowledged it already (one round trip fewer).
          const carried = await handler!(delivery);
          if (!abandoned && carried !== 'acknowledged') acknowledge(stream, id);
          return;
        } catch (err) {
          if (stopped) return; // left pending: another consumer claims it after the lease
          if (runs >= options.maxDeliveries) {
            await bury({ id, partition: stream, job, raw: undefined, error: asError(err), deliveries: runs });
            return;
          }
          const delay = Math.min(RETRY_BASE_MS * 2 ** (runs - 1), RETRY_MAX_MS);
          const fields = { err, entry: id, stream, runs, retryInMs: delay };
          if (isTransientRedisError(err)) logger.warn(fields, 'ingress entry failed; running it again');
          else logger.error(fields, 'ingress entry failed; running it again');
          await sleep(delay, undefined, { ref: false, signal: stopping.signal }).catch(() => undefined);
          if (stopped) return; // left pending, as above
        }
      }
    } finally {
      held.get(stream)!.delete(id);
      released();
    }
  }

  async function bury(letter: DeadLetter): Promise<void> {
    if (abandoned) return;
    try {
      await options.deadLetters?.bury(letter);
      if (!options.deadLetters) {
        logger.error({ err: letter.error, entry: letter.id }, 'ingress entry given up on (no dead letters)');
      }
      acknowledge(letter.partition, letter.id);
    } catch (err) {
      // Left pending: claimed again after the lease, and buried then.
      logger.warn({ err, entry: letter.id }, 'could not keep a dead letter; the entry stays pending');
    }
  }

  function start(partition: IngressPartition, id: string, fields: string[] | null, deliveries: number) {
    holding++;
    const task = run(partition, id, fields, deliveries).catch((err: unknown) =>
      logger.error({ err, entry: id }, 'ingress entry runner failed'),
    );
    running.add(task);
    void task.finally(() => running.delete(task));
  }

  async function read(partition: IngressPartition, reader: RedisConnection): Promise<void> {
    let failing = false;
    let corked: Writable | undefined;
    while (!stopped) {
      try {
        if (free() <= 0) {
          // A delivery on the lane may belong to a handler holding the slot waited for: never wait corked.
          corked?.uncork();
          corked = undefined;
        }
        await slot();
        if (stopped) break;
        const reading = reader.xreadgroup(
          'GROUP',
          INGRESS_GROUP,
          me,
          'COUNT',
          free(),
          'BLOCK',
          blockMs,
          'STREAMS',
          partition.stream,
          '>',
        );
        // Written behind the delivery the lane took (if any): both leave in this one write.
        corked?.uncork();
        corked = undefined;
        const reply = (await reading) as ReadReply;
        if (failing) logger.info({ stream: partition.stream }, 'reading the ingress again');
        failing = false;
        let took = false;
        for (const [, entries] of reply ?? [])
          for (const [id, fields] of entries) {
            start(partition, id, fields, 1);
            took = true;
          }
        if (took) corked = await afterDeliveries(reader);
      } catch (err) {
        corked?.uncork();
        corked = undefined;
        if (stopped) break;
        if (err instanceof Error && err.message.startsWith('NOGROUP')) {
          // Redis lost the stream (a restart without persistence): make the group again, from its start.
          await ensureStreamGroup(redis, partition.stream).catch(() => undefined);
        } else if (!failing) {
          logger.warn({ err, stream: partition.stream }, 'reading the ingress failed; retrying');
        }
        failing = true;
        await new Promise((resolve) => setTimeout(resolve, RETRY_BASE_MS).unref());
      }
    }
    corked?.uncork();
  }

  /**
   * Waits until the handlers that finished in this turn have had their delivery sent (the publisher
   * sends at its `setImmediate`, queued after this turn's first one), offering `reader` as the lane
   * meanwhile. Returns the reader's socket, corked, when the lane may have been taken: the caller
   * uncorks it once the next read is written.
   */
  async function afterDeliveries(reader: RedisConnection): Promise<Writable | undefined> {
    const socket = laneSocket(reader);
    socket?.cork();
    if (socket) offered = reader;
    try {
      await nextTurn();
      await nextTurn();
    } finally {
      offered = undefined;
    }
    return socket;
  }

  /** Keeps this consumer's leases: XCLAIM JUSTID resets an entry's idle time without counting a delivery. */
  async function renew(): Promise<void> {
    for (const [stream, ids] of held) {
      if (ids.size === 0) continue;
      await redis.xclaim(stream, INGRESS_GROUP, me, 0, ...ids, 'JUSTID');
    }
  }

  /** Takes entries whose lease lapsed (their consumer died) and runs them here; then housekeeping. */
  async function claim(): Promise<void> {
    for (const partition of partitions) {
      let cursor = '0-0';
      while (free() > 0 && !stopped) {
        const [next, entries] = (await redis.xautoclaim(
          partition.stream,
          INGRESS_GROUP,
          me,
          options.leaseMs,
          cursor,
          'COUNT',
          free(),
        )) as [string, [string, string[] | null][], string[]?];
        if (entries.length > 0) {
          const counts = await deliveriesOf(
            partition.stream,
            entries.map(([id]) => id),
          );
          for (const [id, fields] of entries) {
            logger.info(
              { entry: id, stream: partition.stream },
              'claimed an ingress entry whose consumer went away',
            );
            start(partition, id, fields, counts.get(id) ?? 2);
          }
        }
        if (next === '0-0') break;
        cursor = next;
      }
    }
    if (Date.now() - housekept >= HOUSEKEEPING_MS) await housekeep();
  }

  /** How many times each entry was handed out (XAUTOCLAIM counted the claim). */
  async function deliveriesOf(stream: string, ids: string[]): Promise<Map<string, number>> {
    const sorted = [...ids].sort(compareIds);
    const rows = (await redis.xpending(
      stream,
      INGRESS_GROUP,
      sorted[0]!,
      sorted.at(-1)!,
      ids.length * 2,
      me,
    )) as [string, string, number, number][];
    return new Map(rows.map(([id, , , count]) => [id, count]));
  }

  /** Trims what every consumer acknowledged, and forgets consumers long gone with nothing pending. */
  async function housekeep(): Promise<void> {
    housekept = Date.now();
    for (const { stream } of partitions) {
      const [count, oldest] = (await redis.xpending(stream, INGRESS_GROUP)) as [number, string | null];
      const { lastDeliveredId } = await readStreamGroup(redis, stream);
      // Entries below both the oldest pending one and the last handed out were all acknowledged.
      const keepFrom =
        count > 0 && oldest && compareIds(oldest, lastDeliveredId) < 0 ? oldest : lastDeliveredId;
      if (keepFrom !== '0-0') await redis.xtrim(stream, 'MINID', keepFrom);
      const consumers = (await redis.xinfo('CONSUMERS', stream, INGRESS_GROUP)) as unknown[][];
      for (const row of consumers) {
        const info: Record<string, unknown> = {};
        for (let i = 0; i + 1 < row.length; i += 2) info[String(row[i])] = row[i + 1];
        if (info.name !== me && info.pending === 0 && Number(info.idle) > STALE_CONSUMER_MS) {
          await redis.xgroup('DELCONSUMER', stream, INGRESS_GROUP, String(info.name));
        }
      }
    }
  }

  function shutdown(abandon: boolean): Promise<void> {
    abandoned ||= abandon;
    closing ??= (async () => {
      stopped = true;
      stopping.abort();
      for (const wake of slotWaiters.splice(0)) wake();
      await Promise.allSettled(timers.map((t) => t.stop()));
      if (abandon) {
        for (const reader of readers) reader.disconnect();
        return;
      }
      await Promise.allSettled(loops);
      await Promise.allSettled([...running]);
      await flushAcks();
      await Promise.allSettled(readers.map((reader) => closeRedis(reader)));
    })();
    return closing;
  }

  return {
    async start(run, given = {}) {
      if (handler) throw new Error('ingress consumer already started');
      handler = run;
      hooks = given;
      openRedis(redis);
      for (const { stream } of partitions) await ensureStreamGroup(redis, stream);
      for (const partition of partitions) {
        const reader = options.connection();
        readers.push(reader);
        openRedis(reader);
        loops.push(read(partition, reader));
      }
      const failed = (what: string) => `${what} failed; retrying`;
      timers = [
        repeat(
          Math.max(100, Math.floor(options.leaseMs / 3)),
          renew,
          logger,
          failed('renewing ingress leases'),
        ),
        repeat(options.claimIntervalMs, claim, logger, failed('claiming lapsed ingress entries')),
      ];
    },
    running: () => handler !== undefined && !stopped,
    async backlog() {
      const [all, failed] = await Promise.all([
        Promise.all(partitions.map(({ stream }) => readStreamGroup(redis, stream))),
        options.deadLetters?.count() ?? 0,
      ]);
      // Dead letters are kept for the whole ingress, not per partition.
      const parts: IngressPartitionBacklog[] = all.map((info, index) => ({
        index,
        waiting: info.lag,
        active: info.pending,
        delayed: 0,
        failed: 0,
      }));
      const sum: IngressBacklog = { waiting: 0, active: 0, delayed: 0, failed, partitions: parts };
      for (const part of parts) {
        sum.waiting += part.waiting;
        sum.active += part.active;
      }
      return sum;
    },
    pending: () => holding,
    lane: () => offered,
    close: () => shutdown(false),
    abandon: () => shutdown(true),
  };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The socket of a standalone (or Sentinel) connection that is ready: what a lane corks. None on a Redis
 * Cluster, whose one-round-trip delivery is off anyway, nor while the connection is down (commands then
 * wait in ioredis's own queue).
 */
function laneSocket(connection: RedisConnection): Writable | undefined {
  if (connection.isCluster || connection.status !== 'ready' || !('stream' in connection)) return undefined;
  return connection.stream;
}

/** Orders stream ids (`<ms>-<seq>`) numerically. */
function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}

/** An entry's job: anything but a valid job's JSON (no field, not JSON, a bad job) is a WireError. */
function decodeEntry(raw: string | undefined): IngressJob {
  if (raw === undefined) throw new WireError(`entry has no "${JOB_FIELD}" field`);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new WireError('entry is not JSON', { cause: err });
  }
  return decodeIngressJob(value);
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
