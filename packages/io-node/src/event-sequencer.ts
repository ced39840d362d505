import type {
  ClientBatch,
  ClientInfo,
  IngressEvent,
  IngressJob,
  Logger,
  ReplyCommand,
} from '@iocluster/shared';
import { deadlineMarginMs, decodeArgs, INGRESS_VERSION } from '@iocluster/shared';
import { type ClientStateSync, stateWrites } from './client-state-sync.js';
import type { IngressProducer } from './ingress-queue.js';

/** Socket.IO's ack callback for one client event. */
export type AckFn = (response: unknown) => void;

export interface EventSequencerOptions {
  nodeId: string;
  producer: IngressProducer;
  logger: Logger;
  /** Keep one batch of a client's events in flight at a time, so handlers see them in order. */
  ordering: boolean;
  /** Most events in one job (and taken from one client per job while ordering). */
  batchMaxEvents: number;
  /** An event with no reply after this long is answered with a TIMEOUT error and released. */
  eventTimeoutMs: number;
  /** Events queued for one client beyond this are refused with OVERLOADED. */
  maxQueuedPerClient: number;
  /**
   * Events of all clients waiting on this node (queued, being enqueued while Redis is unreachable, or
   * awaiting their reply) beyond this are refused with OVERLOADED: a bound on the memory an outage costs.
   */
  maxPendingEvents: number;
  /**
   * Jobs of this node awaiting their replies before the next events wait for one of them (Nagle's
   * algorithm for the queue): below it events go out at once; at it they gather into the next job.
   */
  maxJobsInFlight: number;
  /** Observers for metrics; they must not throw. @defaultValue none */
  hooks?: EventSequencerHooks;
  /**
   * Versions of the clients' states, so batches name a state app-nodes may have instead of carrying it
   * (slim events). @defaultValue none: every batch carries its client's state
   */
  clientStates?: ClientStateSync;
}

/** What the sequencer reports as it goes (metrics); called synchronously. */
export interface EventSequencerHooks {
  /** An event's reply arrived `ms` after its batch was handed to the ingress queue. */
  onAnswered?(ms: number): void;
  /** `events` events of one client were answered with TIMEOUT. */
  onTimedOut?(events: number): void;
}

/** A job sent and not yet answered: how many of its events still await their reply. */
interface JobInFlight {
  remaining: number;
}

interface InFlight {
  event: IngressEvent;
  ack: AckFn | null;
  job: JobInFlight;
  /** When its batch was handed to the queue (ms since epoch). */
  sentAt: number;
}

interface Queued {
  event: IngressEvent;
  ack: AckFn | undefined;
}

interface ClientState {
  readonly id: string;
  readonly describe: () => ClientInfo;
  /** Snapshot taken when the client disconnected: its socket no longer lists its rooms. */
  final: ClientInfo | undefined;
  nextSeq: number;
  queued: Queued[];
  /** Sent, awaiting their reply, by seq. */
  inflight: Map<number, InFlight>;
  sentAt: number;
  ended: boolean;
}

/**
 * Numbers each client's events, batches them into ingress jobs and tracks them until their `reply`.
 *
 * Ordering: while `ordering` is on, a client has at most one batch in flight; its next events are sent
 * together once every event of that batch was replied to. App-nodes publish a batch's commands before
 * its replies, on one connection, so everything the handlers emitted reaches every io-node before the
 * next batch of that client is even queued. Events of different clients flow in parallel.
 */
export class EventSequencer {
  private readonly clients = new Map<string, ClientState>();
  private readonly ready = new Set<ClientState>();
  private readonly waiting = new Set<ClientState>();
  private readonly adding = new Set<Promise<void>>();
  private readonly idleWaiters: (() => void)[] = [];
  private flushScheduled = false;
  private outstanding = 0;
  private jobsInFlight = 0;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(private readonly options: EventSequencerOptions) {
    const period = Math.max(50, Math.min(1_000, Math.floor(options.eventTimeoutMs / 4)));
    this.sweepTimer = setInterval(() => this.expire(Date.now()), period);
    this.sweepTimer.unref();
  }

  /** Registers a client and queues its `connect` event (with `recovery` when its session was restored). */
  open(id: string, describe: () => ClientInfo, recovery?: { previousId: string }): void {
    const state: ClientState = {
      id,
      describe,
      final: undefined,
      nextSeq: 0,
      queued: [],
      inflight: new Map(),
      sentAt: 0,
      ended: false,
    };
    this.clients.set(id, state);
    const connect: IngressEvent = { seq: state.nextSeq++, kind: 'connect' };
    if (recovery) connect.recovery = recovery;
    this.enqueue(state, connect, undefined);
  }

  /**
   * Queues a client event; returns false (and answers the ack) when the client is over its limit.
   * `identity` is the id `@iocluster/client` gave it, and whether this is a resend after a reconnect.
   */
  event(
    id: string,
    name: string,
    args: unknown[],
    bin: boolean,
    ack: AckFn | undefined,
    identity?: { eid: string; resent: boolean },
  ): boolean {
    const state = this.clients.get(id);
    if (!state || state.ended) return false;
    if (state.queued.length >= this.options.maxQueuedPerClient) {
      this.options.logger.warn(
        { socketId: id, event: name },
        'client over its queued-event limit; event refused',
      );
      ack?.({ error: { code: 'OVERLOADED', message: 'too many events waiting for this client; slow down' } });
      return false;
    }
    if (this.outstanding >= this.options.maxPendingEvents) {
      this.options.logger.warn(
        { socketId: id, event: name, pending: this.outstanding },
        'io-node over its pending-event limit; event refused',
      );
      ack?.({
        error: { code: 'OVERLOADED', message: 'this io-node has too many events waiting; retry later' },
      });
      return false;
    }
    const event: IngressEvent = { seq: state.nextSeq++, kind: 'event', name, args, ack: ack !== undefined };
    if (bin) event.bin = true;
    if (identity) {
      event.eid = identity.eid;
      if (identity.resent) event.resent = true;
    }
    this.enqueue(state, event, ack);
    return true;
  }

  /** Queues the client's `disconnect` event, last of its events; `final` is its state at that moment. */
  end(id: string, reason: string, final: ClientInfo): void {
    const state = this.clients.get(id);
    if (!state || state.ended) return;
    state.final = final;
    state.ended = true;
    this.enqueue(state, { seq: state.nextSeq++, kind: 'disconnect', reason }, undefined);
  }

  /**
   * Applies an app-node's reply: answers the ack and, once the batch is done, releases the next one. A
   * reply asking for a `resend` (the app-node lacked the client's state) puts the event back in front,
   * to go again with the state inline.
   */
  reply(cmd: ReplyCommand): void {
    const state = this.clients.get(cmd.socketId);
    const entry = state?.inflight.get(cmd.seq);
    if (!state || entry === undefined) {
      // A repeat after an app-node retried a job, or an answer that came after the timeout.
      this.options.logger.debug({ clientId: cmd.socketId, seq: cmd.seq }, 'reply for no in-flight event');
      return;
    }
    state.inflight.delete(cmd.seq);
    this.answered(entry.job);
    if (cmd.resend) {
      this.options.logger.debug(
        { clientId: state.id, seq: cmd.seq },
        'event sent again with its client state',
      );
      this.options.clientStates?.changed(state.id);
      const at = state.queued.findIndex((q) => q.event.seq > cmd.seq);
      const back: Queued = { event: entry.event, ack: entry.ack ?? undefined };
      if (at < 0) state.queued.push(back);
      else state.queued.splice(at, 0, back);
      this.settle(state);
      return;
    }
    this.outstanding--;
    this.options.hooks?.onAnswered?.(Date.now() - entry.sentAt);
    if (entry.ack) entry.ack(cmd.error ? { error: cmd.error } : decodeArgs([cmd.result], cmd.bin)[0]);
    this.settle(state);
  }

  /** Resolves when every event queued so far has been handed to Redis (for shutdown). */
  async flushed(): Promise<void> {
    if (this.ready.size > 0) this.flush();
    while (this.adding.size > 0) await Promise.all([...this.adding]);
  }

  /** Events queued or awaiting their reply. */
  get pending(): number {
    return this.outstanding;
  }

  /** Resolves when no event is queued or awaiting its reply. */
  idle(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    clearInterval(this.sweepTimer);
  }

  private enqueue(state: ClientState, event: IngressEvent, ack: AckFn | undefined): void {
    state.queued.push({ event, ack });
    this.outstanding++;
    if (!this.options.ordering || state.inflight.size === 0) this.markReady(state);
  }

  private answered(job: JobInFlight): void {
    if (--job.remaining > 0) return;
    this.jobsInFlight--;
    if (this.ready.size > 0) this.scheduleFlush();
  }

  private markReady(state: ClientState): void {
    this.ready.add(state);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.jobsInFlight >= this.options.maxJobsInFlight) return;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Everything that arrived in this turn of the event loop goes out in as few jobs as possible.
      setImmediate(() => {
        if (this.flushScheduled) this.flush();
      });
    }
  }

  private settle(state: ClientState): void {
    if (state.inflight.size === 0) {
      this.waiting.delete(state);
      if (state.queued.length > 0) this.markReady(state);
      else if (state.ended) this.clients.delete(state.id);
    }
    if (this.outstanding === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private flush(): void {
    this.flushScheduled = false;
    const { batchMaxEvents, ordering, nodeId, eventTimeoutMs, clientStates } = this.options;
    const writes = stateWrites();
    const now = Date.now();
    // App-nodes stop a handler by then, so none still runs when `expire` sends the client's next events.
    const deadline = now + eventTimeoutMs - deadlineMarginMs(eventTimeoutMs);
    const jobs: IngressJob[] = [];
    let current: ClientBatch[] = [];
    let count = 0;
    let tracker: JobInFlight = { remaining: 0 };
    for (const state of this.ready) {
      const take = ordering ? state.queued.splice(0, batchMaxEvents) : state.queued.splice(0);
      if (take.length === 0) continue;
      state.sentAt = now;
      this.waiting.add(state);
      // With ordering a client's batch stays whole (one job, one worker); without, it may be split.
      const pieces = ordering ? [take] : chunk(take, batchMaxEvents);
      for (const piece of pieces) {
        if (count > 0 && count + piece.length > batchMaxEvents) {
          jobs.push({ v: INGRESS_VERSION, nodeId, batches: current });
          current = [];
          count = 0;
          tracker = { remaining: 0 };
        }
        for (const { event, ack } of piece)
          state.inflight.set(event.seq, { event, ack: ack ?? null, job: tracker, sentAt: now });
        tracker.remaining += piece.length;
        let client: ClientBatch['client'];
        if (state.final) client = clientStates ? clientStates.final(state.id, state.final) : state.final;
        else client = clientStates ? clientStates.take(state.id, state.describe, writes) : state.describe();
        current.push({ client, events: piece.map((q) => q.event), deadline });
        count += piece.length;
      }
    }
    this.ready.clear();
    if (current.length > 0) jobs.push({ v: INGRESS_VERSION, nodeId, batches: current });
    if (jobs.length === 0) return;
    this.jobsInFlight += jobs.length;
    // A batch naming a client's state by version goes in only once the state is stored.
    const stored = clientStates?.commit(writes);
    const { producer } = this.options;
    const adding = (stored ? stored.then(() => producer.add(jobs)) : producer.add(jobs)).catch(
      (err: unknown) => {
        this.options.logger.error({ err, jobs: jobs.length }, 'client events could not be enqueued');
      },
    );
    this.adding.add(adding);
    void adding.finally(() => this.adding.delete(adding));
  }

  private expire(now: number): void {
    const { eventTimeoutMs, logger } = this.options;
    for (const state of this.waiting) {
      if (now - state.sentAt < eventTimeoutMs) continue;
      logger.warn(
        { clientId: state.id, events: state.inflight.size, timeoutMs: eventTimeoutMs },
        'no app-node answered in time; events answered with TIMEOUT',
      );
      for (const { ack, job } of state.inflight.values()) {
        ack?.({ error: { code: 'TIMEOUT', message: `no answer within ${eventTimeoutMs} ms` } });
        this.answered(job);
      }
      this.options.hooks?.onTimedOut?.(state.inflight.size);
      this.outstanding -= state.inflight.size;
      state.inflight.clear();
      this.settle(state);
    }
  }
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
