import { randomBytes } from 'node:crypto';
import { INGRESS_VERSION, type IngressJob, type Logger } from '@iocluster/shared';

/** Changes in one ingress job: a purge of a big node goes out in several. */
const CHANGES_PER_JOB = 500;

/**
 * Where an io-node's deciding modules (presence, occupancy) put the changes Redis reported to them:
 * each gets a unique id, and what one turn of the event loop decided goes to the ingress in as few jobs
 * as possible, for app-nodes to run. A job that cannot be enqueued is logged (its changes are lost).
 */
export interface ChangeOutbox<C extends { id: string }> {
  /** Queues a change, giving it its id. */
  push(change: Omit<C, 'id'>): void;
  /** Enqueues what is queued now, without waiting for the turn to end. */
  send(): void;
  /** Whether changes are queued or being enqueued. */
  readonly busy: boolean;
  /** Resolves once what was handed to the ingress so far is in (or failed). */
  settled(): Promise<void>;
}

export interface ChangeOutboxOptions<C> {
  nodeId: string;
  /** Tells the ids of this outbox from those of another on the same node (`o` for occupancy...). */
  idTag?: string;
  /** The ingress job fields that carry a list of changes. */
  job: (changes: C[]) => Pick<IngressJob, 'presence' | 'occupancy'>;
  /** Hands jobs to the ingress; resolves once Redis has them. */
  enqueue: (jobs: IngressJob[]) => Promise<void>;
  /** What the changes are, in the log line of a failure. */
  what: string;
  logger: Logger;
}

export function createChangeOutbox<C extends { id: string }>(
  options: ChangeOutboxOptions<C>,
): ChangeOutbox<C> {
  const { nodeId, logger } = options;
  const idPrefix = [nodeId, options.idTag, randomBytes(4).toString('hex')].filter(Boolean).join('.');
  let count = 0;
  let pending: C[] = [];
  const adding = new Set<Promise<void>>();

  function send(): void {
    const changes = pending;
    pending = [];
    for (let i = 0; i < changes.length; i += CHANGES_PER_JOB) {
      const part = changes.slice(i, i + CHANGES_PER_JOB);
      const job: IngressJob = { v: INGRESS_VERSION, nodeId, batches: [], ...options.job(part) };
      const add = options.enqueue([job]).catch((err: unknown) => {
        logger.error({ err, changes: part.length }, `${options.what} changes could not be enqueued`);
      });
      adding.add(add);
      void add.finally(() => adding.delete(add));
    }
  }

  return {
    push(change) {
      pending.push({ ...change, id: `${idPrefix}.${++count}` } as C);
      if (pending.length === 1) setImmediate(send);
    },
    send,
    get busy() {
      return pending.length > 0 || adding.size > 0;
    },
    async settled() {
      await Promise.allSettled([...adding]);
    },
  };
}

/** What a deciding module that purges dead io-nodes' entries (presence, occupancy) is given. */
export interface DeadNodeSweepOptions {
  /** Whether an io-node counts as live, after a fresh look at the liveness records. */
  liveNodes: () => Promise<(nodeId: string) => boolean>;
  /** Hands jobs to the ingress queue; resolves once Redis has them (retrying meanwhile). */
  enqueue: (jobs: IngressJob[]) => Promise<void>;
  /** How often to look for dead nodes whose entries are still there. */
  sweepIntervalMs: number;
  logger: Logger;
}

const RETRY_DELAY_MS = 250;
const MAX_RETRY_DELAY_MS = 5_000;

/** The pause before retry `attempt` (from 0) of a Redis write: 250 ms doubling, at most 5 s; holds no process open. */
export function retryPause(attempt: number): Promise<void> {
  const delay = Math.min(RETRY_DELAY_MS * 2 ** attempt, MAX_RETRY_DELAY_MS);
  return new Promise((resolve) => setTimeout(resolve, delay).unref());
}

/**
 * Runs `op` until it succeeds, or until it fails while `closed()` (then resolves undefined); logs the first
 * failure of a streak as `<what> failed; retrying` with `fields`.
 */
export async function retriedUntilClosed<T>(
  op: () => Promise<T>,
  context: { what: string; fields?: Record<string, unknown>; closed: () => boolean; logger: Logger },
): Promise<T | undefined> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (context.closed()) {
        context.logger.warn({ err, ...context.fields }, `${context.what} failed while closing; given up`);
        return undefined;
      }
      if (attempt === 0) context.logger.warn({ err, ...context.fields }, `${context.what} failed; retrying`);
      await retryPause(attempt);
    }
  }
}
