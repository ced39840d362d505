import type { IngressJob } from '../wire/ingress.js';

/**
 * Producer side of the ingress: the io-node's only way of handing client events to app-nodes.
 *
 * Every implementation must:
 * - resolve `add` only once the jobs are durable in the transport (as durable as it is: Redis with its
 *   replica wait, memory for the process's life), and keep retrying transient failures meanwhile, so an
 *   accepted event is never lost; it rejects only on a job it can never carry (one JSON cannot encode)
 *   or once closed;
 * - keep the jobs of one `add` call in the order given for each client (a client's batches reach the
 *   consumers in the order they were added).
 *
 * It does not order one client's jobs across `add` calls that overlap, does not deduplicate (a job added
 * twice runs twice), and leaves per-client sequencing (one batch in flight) to the io-node's sequencer.
 */
export interface IngressProducer {
  /** Adds jobs; resolves once the transport holds them. */
  add(jobs: readonly IngressJob[]): Promise<void>;
  /** Jobs accepted and not yet taken by any consumer (all io-nodes' together): the backpressure gauge. */
  waiting(): Promise<number>;
  /** Stops retrying and releases the producer's resources (not the connections it was given). */
  close(): Promise<void>;
}

/**
 * Runs an ingress job gets, whatever the transport, before it is given up on and kept as failed: 8 runs
 * backing off from 250 ms to 16 s, about 32 s in all, longer than a Redis Cluster takes to promote a
 * replica of a dead primary (cluster-node-timeout, 15 s by default, plus an election), a Sentinel failover,
 * a Redis restart or replicas resyncing: 3 tries 500 ms apart gave up first and lost the job's messages
 * (test/redis-cluster-failover.test.ts, test/sentinel.test.ts).
 */
export const INGRESS_MAX_RUNS = 8;

/** One ingress job as a consumer hands it to its handler. */
export interface IngressDelivery {
  /** The transport's id of the job (a BullMQ job id, a Stream entry id), for logs. */
  readonly id: string;
  readonly job: IngressJob;
  /**
   * How many times this job was handed out before (0 the first time): more than 0 after a consumer died
   * holding it or a handler failed on it. Handlers must tolerate a repeat either way.
   */
  readonly redelivered: number;
  /**
   * The Stream entry to acknowledge, offered by a consumer that lets the handler's own command append
   * carry its acknowledgement (Redis Streams): a handler whose last append acknowledged it in the same
   * atomic step resolves `'acknowledged'`, and the consumer sends no acknowledgement of its own. Absent
   * for transports that acknowledge themselves (BullMQ, in memory).
   */
  readonly acknowledgement?: IngressAcknowledgement;
}

/** An ingress entry to acknowledge: `XACK <stream> <group> <id>`. */
export interface IngressAcknowledgement {
  readonly stream: string;
  readonly group: string;
  readonly id: string;
}

/**
 * Runs one job. Resolving acknowledges it: resolve only once every command the job's handlers published
 * is appended (with `'acknowledged'` when that append also acknowledged it, see
 * `IngressDelivery.acknowledgement`). Rejecting leaves it unacknowledged: the transport runs it again later.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a handler that returns nothing (`async () => {}`) must fit.
export type IngressHandler = (delivery: IngressDelivery) => Promise<void | 'acknowledged'>;

/** What a consumer reports besides running jobs (metrics); called synchronously, must not throw. */
export interface IngressHooks {
  /** A job failed to decode: it was kept as failed and never reached the handler. */
  onMalformed?(id: string, err: unknown): void;
}

/**
 * What the ingress holds, for the queue gauge, the admin view and autoscaling: `waiting` is the lag
 * (accepted, not yet taken by a consumer), `active` the pending entries (taken, not yet acknowledged).
 */
export interface IngressBacklog {
  waiting: number;
  active: number;
  /** Held back for a retry later (0 where the transport retries by redelivery instead). */
  delayed: number;
  /** Given up on and kept for inspection (dead letters). */
  failed: number;
  /** The same per ingress partition, in partition order (the admin view's lag per partition). */
  partitions: readonly IngressPartitionBacklog[];
}

/** One ingress partition's share of the {@link IngressBacklog}. */
export interface IngressPartitionBacklog {
  index: number;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
}

/**
 * Consumer side of the ingress: the app-node's source of client events. Every app-node's consumer
 * competes with the others for the same jobs.
 *
 * Every implementation must:
 * - give each job to one consumer at a time, and to the handler of exactly one of its consumers' slots,
 *   with at most `concurrency` jobs (its option) running at once; it may fetch many jobs in one read;
 * - acknowledge a job only after its handler resolved (it may acknowledge several in one call);
 * - run a job again, on any live consumer, when its consumer died or was closed without finishing it
 *   (after a lease: the BullMQ lock, the Stream's idle time before a claim) or its handler rejected,
 *   and count that in `redelivered`; give up on a job only after a bounded number of runs, keeping it
 *   as a failed job (a dead letter) rather than dropping it;
 * - decode every job with the wire decoder and never hand a malformed one to the handler: it is failed
 *   (kept, logged) at once, without retries;
 * - on `close`, stop taking jobs and resolve once the running handlers settled.
 *
 * It does not order jobs (two jobs of one client may run at once on two consumers if both were added:
 * the io-node's sequencer prevents that), does not deduplicate, and does not bound a handler's time
 * (the app-node does).
 */
export interface IngressConsumer {
  /** Starts taking jobs for `handler`; resolves once connected and reading. Called once. */
  start(handler: IngressHandler, hooks?: IngressHooks): Promise<void>;
  /** Started, not closed, and reading. */
  running(): boolean;
  /** The ingress as a whole (every consumer's jobs), not only this consumer's. */
  backlog(): Promise<IngressBacklog>;
  /** Jobs this consumer holds: handed to its handler and not yet acknowledged (its pending entries). */
  pending(): number;
  /** Stops taking jobs; resolves once the running handlers settled and the resources are released. Idempotent. */
  close(): Promise<void>;
}
