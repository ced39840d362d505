import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { decodeIngressJob, type IngressJob } from '../wire/ingress.js';
import type {
  IngressBacklog,
  IngressConsumer,
  IngressDelivery,
  IngressHandler,
  IngressHooks,
  IngressProducer,
} from './ingress.js';

export interface MemoryIngressOptions {
  /** How long a dead consumer's jobs stay leased to it before another consumer gets them. @defaultValue 1000 */
  leaseMs?: number;
  /** How long a job whose handler rejected waits before it runs again. @defaultValue 100 */
  retryDelayMs?: number;
  /** Runs of a job before it is failed and kept as a dead letter. @defaultValue 8 */
  maxRuns?: number;
  /** @defaultValue a silent logger */
  logger?: Logger;
}

/** A consumer of the in-memory ingress, which a test can also kill. */
export interface MemoryIngressConsumer extends IngressConsumer {
  /**
   * Dies on the spot, as a process killed with SIGKILL: takes nothing more, ignores how its running
   * handlers end, and its jobs go to the other consumers once their lease ran out.
   */
  kill(): void;
}

/** The ingress in one process: the in-memory twin of the BullMQ queues and the Redis Streams. */
export interface MemoryIngress {
  producer(): IngressProducer;
  consumer(options: { concurrency: number }): MemoryIngressConsumer;
  /** Jobs given up on, with the reason (for tests). */
  readonly failed: readonly { id: string; reason: string }[];
}

interface Entry {
  id: string;
  /** The job as JSON, as a transport through Redis would carry it. */
  data: string;
  runs: number;
}

interface Member {
  readonly concurrency: number;
  running: number;
  handler: IngressHandler | undefined;
  hooks: IngressHooks;
  dead: boolean;
  closing: boolean;
  readonly leases: Set<Entry>;
  readonly settled: Set<Promise<void>>;
}

export function createMemoryIngress(options: MemoryIngressOptions = {}): MemoryIngress {
  const leaseMs = options.leaseMs ?? 1_000;
  const retryDelayMs = options.retryDelayMs ?? 100;
  const maxRuns = options.maxRuns ?? 8;
  const logger = options.logger ?? silentLogger();
  const queue: Entry[] = [];
  const members: Member[] = [];
  const failed: { id: string; reason: string }[] = [];
  let delayed = 0;
  /** Jobs of dead consumers whose lease has not run out. */
  let abandoned = 0;
  let created = 0;
  /** Where the round-robin over consumers goes on from. */
  let turn = 0;

  function fail(entry: Entry, reason: string): void {
    failed.push({ id: entry.id, reason });
    logger.error({ jobId: entry.id, reason }, 'ingress job failed');
  }

  /**
   * Puts a job back for another run after `ms` (at the head: it was taken before the others waiting).
   * Until then it counts as delayed (a retry), or as active while a dead consumer's lease runs.
   */
  function later(entry: Entry, ms: number, leased = false): void {
    if (leased) abandoned++;
    else delayed++;
    setTimeout(() => {
      if (leased) abandoned--;
      else delayed--;
      queue.unshift(entry);
      dispatch();
    }, ms);
  }

  function run(member: Member, entry: Entry): void {
    entry.runs++;
    member.running++;
    member.leases.add(entry);
    let job: IngressJob;
    try {
      job = decodeIngressJob(JSON.parse(entry.data));
    } catch (err) {
      member.running--;
      member.leases.delete(entry);
      fail(entry, err instanceof Error ? err.message : String(err));
      member.hooks.onMalformed?.(entry.id, err);
      return;
    }
    const delivery: IngressDelivery = { id: entry.id, job, redelivered: entry.runs - 1 };
    const settled = member.handler!(delivery).then(
      () => {
        if (member.dead) return;
        member.leases.delete(entry);
      },
      (err: unknown) => {
        if (member.dead) return;
        member.leases.delete(entry);
        logger.warn({ err, jobId: entry.id }, 'ingress job handler failed');
        if (entry.runs >= maxRuns) fail(entry, err instanceof Error ? err.message : String(err));
        else later(entry, retryDelayMs);
      },
    );
    const tracked = settled.finally(() => {
      if (member.dead) return;
      member.settled.delete(tracked);
      member.running--;
      dispatch();
    });
    member.settled.add(tracked);
  }

  function dispatch(): void {
    while (queue.length > 0) {
      const free = members.filter((m) => !m.dead && !m.closing && m.handler && m.running < m.concurrency);
      if (free.length === 0) return;
      const member = free[turn++ % free.length]!;
      run(member, queue.shift()!);
    }
  }

  function producer(): IngressProducer {
    let closed = false;
    return {
      async add(jobs) {
        if (closed) throw new Error('ingress producer closed');
        // Encoded before any is queued: a job JSON cannot carry throws and none of the call gets in.
        const encoded = jobs.map((job) => JSON.stringify(job));
        for (const data of encoded) queue.push({ id: String(++created), data, runs: 0 });
        dispatch();
      },
      waiting: async () => queue.length,
      async close() {
        closed = true;
      },
    };
  }

  function consumer({ concurrency }: { concurrency: number }): MemoryIngressConsumer {
    const member: Member = {
      concurrency,
      running: 0,
      handler: undefined,
      hooks: {},
      dead: false,
      closing: false,
      leases: new Set(),
      settled: new Set(),
    };
    let closing: Promise<void> | undefined;
    return {
      async start(handler, hooks = {}) {
        if (member.handler) throw new Error('ingress consumer already started');
        member.handler = handler;
        member.hooks = hooks;
        members.push(member);
        setImmediate(dispatch);
      },
      running: () => member.handler !== undefined && !member.dead && !member.closing,
      async backlog(): Promise<IngressBacklog> {
        const active = members.reduce((n, m) => n + m.leases.size, abandoned);
        const counts = { waiting: queue.length, active, delayed, failed: failed.length };
        // One queue: the whole ingress is partition 0.
        return { ...counts, partitions: [{ index: 0, ...counts }] };
      },
      pending: () => member.leases.size,
      kill() {
        if (member.dead) return;
        member.dead = true;
        // A dead process waits for nothing: its running handlers are abandoned.
        member.settled.clear();
        const held = [...member.leases];
        member.leases.clear();
        members.splice(members.indexOf(member), 1);
        for (const entry of held) later(entry, leaseMs, true);
      },
      close() {
        closing ??= (async () => {
          member.closing = true;
          await Promise.allSettled([...member.settled]);
          const index = members.indexOf(member);
          if (index >= 0) members.splice(index, 1);
        })();
        return closing;
      },
    };
  }

  return { producer, consumer, failed };
}
