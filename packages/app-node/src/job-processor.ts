import type { CommandPublisher } from '@iocluster/shared';
import {
  type ClientBatch,
  type ClientInfo,
  decodeArgs,
  encodeArgs,
  type IngressAcknowledgement,
  type IngressEvent,
  type IngressHandler,
  type IngressJob,
  isClientRef,
  type Logger,
  type OccupancyChange,
  type PresenceChange,
  type ReplyCommand,
  toAckError,
} from '@iocluster/shared';
import { AppSocket } from './app-socket.js';
import type { ClientCache } from './client-cache.js';
import { type FencedRun, runFenced } from './handler-fence.js';
import type { PresenceScope } from './presence-writes.js';
import type { SeenClients } from './seen-clients.js';

/** A handler for a client event: its return value (or thrown error) answers the client's ack. */
export type EventHandler<A extends unknown[] = unknown[]> = (socket: AppSocket, ...args: A) => unknown;

/**
 * Runs before the handler of every client event (not of connection/disconnect). Throwing refuses the
 * event: the handler does not run and the client's ack gets the error.
 */
export type EventMiddleware = (socket: AppSocket, event: string, args: unknown[]) => unknown;

/** Handlers and middleware as registered on the app-node. */
export interface HandlerTable {
  readonly handlers: ReadonlyMap<string, EventHandler>;
  readonly middleware: readonly EventMiddleware[];
}

/** Limits of a handler run, and where answers to resent events are found. */
export interface ProcessorOptions {
  /**
   * A handler still pending after this, or at its batch's deadline when that comes first, is answered
   * TIMEOUT and fenced (what it publishes later is dropped), and its batch moves on.
   */
  handlerTimeoutMs: number;
  /** The answer kept for event `eid` of a session, if its first run finished (see `CommandPublisher.reply`). */
  earlierAnswer: (
    session: string,
    eid: string,
  ) => Promise<Omit<ReplyCommand, 'type' | 'socketId' | 'seq'> | null>;
  /** Told how long each event with a handler took (middleware and handler), for metrics. @defaultValue none */
  onHandled?(event: string, seconds: number): void;
  /** Records one job's presence writes while it runs (read-your-writes). @defaultValue none */
  presenceScope?(): PresenceScope;
  /** Which rooms keep history (a rewinding join needs it). @defaultValue none: not checked */
  keepsHistory?(room: string): boolean;
  /** Told of every client event that found no handler (its client, and whether it asked for an ack). @defaultValue none */
  onUnhandled?(event: string, from: UnhandledEventSource): void;
  /**
   * Client states this app-node holds, and where to read the others: what serves a batch that names its
   * client's state by version. @defaultValue none: such a batch is answered `resend`
   */
  clients?: ClientCache;
}

/** Where an event without a handler came from. */
export interface UnhandledEventSource {
  readonly clientId: string;
  readonly ioNodeId: string;
  /** The client asked for an ack (it gets NO_HANDLER); without one, nothing else tells of the loss. */
  readonly acked: boolean;
}

/** Context of a job for logs. */
interface JobContext {
  jobId: string | undefined;
}

/**
 * Runs the handlers of one ingress job. Clients of the job run concurrently; one client's events run
 * one after another, in `seq` order, each answered by a `reply` published after whatever its handler
 * published. Resolves when every command of the job is in Redis.
 */
export class JobProcessor {
  constructor(
    private readonly table: HandlerTable,
    private readonly publisher: CommandPublisher,
    private readonly seen: SeenClients,
    private readonly logger: Logger,
    private readonly options: ProcessorOptions,
  ) {}

  /**
   * Resolves true when the last delivery of the job's commands also acknowledged `acknowledgement` (see
   * `CommandPublisher.acknowledge`).
   */
  async run(
    job: IngressJob,
    context: JobContext,
    acknowledgement?: IngressAcknowledgement,
  ): Promise<boolean> {
    const since = this.publisher.position();
    const writes = this.options.presenceScope?.();
    try {
      const clients = await this.clientsOf(job);
      await Promise.all(
        job.batches.map((batch, i) =>
          clients[i] ? this.runClient(clients[i], batch, context, writes) : this.resend(job.nodeId, batch),
        ),
      );
    } finally {
      writes?.end();
    }
    const carried = acknowledgement && this.publisher.acknowledge(acknowledgement, since);
    await this.publisher.flush(since);
    return carried?.() === true;
  }

  /** The state of each batch's client (null: named by a version this app-node cannot find). */
  private async clientsOf(job: IngressJob): Promise<(ClientInfo | null)[]> {
    const { clients } = this.options;
    if (clients) return clients.resolve(job.batches);
    return job.batches.map(({ client }) => (isClientRef(client) ? null : client));
  }

  /** Asks the io-node to send a batch again with its client's state: none of its events ran. */
  private resend(nodeId: string, { client, events }: ClientBatch): void {
    this.logger.info(
      { clientId: client.id, ioNodeId: nodeId, version: client.v },
      "client state not found at the batch's version; asking its io-node to send it again",
    );
    for (const event of events) {
      this.publisher.reply(nodeId, { type: 'reply', socketId: client.id, seq: event.seq, resend: true });
    }
  }

  private async runClient(
    client: ClientInfo,
    { events, deadline }: ClientBatch,
    context: JobContext,
    writes: PresenceScope | undefined,
  ): Promise<void> {
    const socket = new AppSocket(client, this.publisher, writes, this.options.keepsHistory);
    for (const event of events) {
      if (event.kind !== 'disconnect' && deadline !== undefined && Date.now() >= deadline) {
        // The io-node has answered it TIMEOUT and sent the client's next events: running it now would run
        // it beside them. A connect skipped leaves the client unseen, so its next event runs `no-client`.
        this.logger.warn(
          { jobId: context.jobId, socketId: socket.id, seq: event.seq, kind: event.kind },
          "event past its io-node's deadline; not run",
        );
        const late: ReplyCommand = { type: 'reply', socketId: socket.id, seq: event.seq };
        if (event.kind === 'event' && event.ack) {
          late.error = { code: 'TIMEOUT', message: "not run: past its io-node's deadline" };
        }
        this.publisher.reply(socket.nodeId, late);
        continue;
      }
      if (event.kind !== 'connect' && !this.seen.has(socket.id)) {
        // First sight of a client another app-node (or this one before a restart) saw connect.
        this.seen.add(socket.id);
        await this.call('no-client', socket, [], event, context, deadline);
      }
      let reply: ReplyCommand;
      switch (event.kind) {
        case 'connect':
          this.seen.add(socket.id);
          socket.recovered = event.recovery;
          reply = await this.call('connection', socket, [], event, context, deadline);
          break;
        case 'disconnect':
          reply = await this.call('disconnect', socket, [event.reason], event, context);
          this.seen.delete(socket.id);
          this.options.clients?.forget(socket.id);
          break;
        case 'event': {
          const earlier =
            event.resent && event.eid && client.session
              ? await this.options.earlierAnswer(client.session, event.eid)
              : null;
          // A resend of an event whose first run finished gets that run's answer; the handler stays put.
          reply = earlier
            ? { ...earlier, type: 'reply', socketId: socket.id, seq: event.seq }
            : await this.call(
                event.name,
                socket,
                decodeArgs(event.args, event.bin),
                event,
                context,
                deadline,
              );
          break;
        }
      }
      const remember =
        event.kind === 'event' && event.eid && client.session
          ? { session: client.session, eid: event.eid }
          : undefined;
      this.publisher.reply(socket.nodeId, reply, remember);
    }
  }

  /** An event no handler takes: NO_HANDLER to an ack, and told to `onUnhandled`. */
  private unhandled(
    name: string,
    socket: AppSocket,
    event: Extract<IngressEvent, { kind: 'event' }>,
    reply: ReplyCommand,
  ): void {
    if (event.ack) reply.error = { code: 'NO_HANDLER', message: `no handler for event "${name}"` };
    this.options.onUnhandled?.(name, { clientId: socket.id, ioNodeId: socket.nodeId, acked: event.ack });
  }

  private async call(
    name: string,
    socket: AppSocket,
    args: unknown[],
    event: IngressEvent,
    context: JobContext,
    deadline?: number,
  ): Promise<ReplyCommand> {
    const reply: ReplyCommand = { type: 'reply', socketId: socket.id, seq: event.seq };
    const handler = this.table.handlers.get(name);
    if (!handler && (event.kind !== 'event' || this.table.middleware.length === 0)) {
      if (event.kind === 'event') this.unhandled(name, socket, event, reply);
      return reply;
    }
    const started = performance.now();
    try {
      const result = await runFenced(this.limit(name, socket, event, deadline), async () => {
        if (event.kind === 'event') {
          for (const middleware of this.table.middleware) await middleware(socket, name, args);
          if (!handler) {
            this.unhandled(name, socket, event, reply);
            return undefined;
          }
        }
        return handler?.(socket, ...args);
      });
      if (result !== undefined && event.kind === 'event' && event.ack) {
        const encoded = encodeArgs([result]);
        reply.result = encoded.args[0];
        if (encoded.bin) reply.bin = true;
      }
    } catch (err) {
      this.logger.warn(
        {
          err,
          jobId: context.jobId,
          clientId: socket.id,
          ioNodeId: socket.nodeId,
          event: name,
          seq: event.seq,
        },
        'handler failed',
      );
      // Only an ack can show the error to anyone; the reply itself is what releases the next event.
      if (event.kind === 'event' && event.ack) reply.error = toAckError(err);
    }
    if (handler) this.options.onHandled?.(name, (performance.now() - started) / 1000);
    return reply;
  }

  /**
   * How long a run may take: `handlerTimeoutMs`, or less when the io-node's deadline for the event comes
   * first (a hung handler must not hold its job, nor run on once the io-node moved on).
   */
  private limit(name: string, socket: AppSocket, event: IngressEvent, deadline?: number): FencedRun {
    const { handlerTimeoutMs } = this.options;
    const run = { event: name, socketId: socket.id, seq: event.seq };
    const left = deadline === undefined ? handlerTimeoutMs : deadline - Date.now();
    if (left < handlerTimeoutMs) {
      return {
        ...run,
        limitMs: left,
        timeoutMessage: `handler for "${name}" did not finish by its io-node's deadline`,
      };
    }
    return {
      ...run,
      limitMs: handlerTimeoutMs,
      timeoutMessage: `handler for "${name}" did not finish within ${handlerTimeoutMs} ms`,
    };
  }
}

/** What the app-node does with one ingress job besides running its events. */
export interface JobSteps {
  /** Tells rooms of the job's presence changes (after its events, like the io-node decided them). */
  presence: { run(changes: readonly PresenceChange[], context: JobContext): Promise<void> };
  /** Runs the `room:occupied` / `room:vacated` handlers of the job's occupancy changes. */
  occupancy?: { run(changes: readonly OccupancyChange[], context: JobContext): Promise<void> };
  /** Told whether each job completed or failed, for metrics. */
  onJob(result: 'completed' | 'failed'): void;
}

/**
 * The app-node's handler of ingress deliveries: runs the job's events, then its presence changes, and
 * resolves once every command they published is appended, which is what acknowledges the job. A job
 * whose commands could not be appended rejects, so the ingress runs it again.
 */
export function ingressHandler(processor: JobProcessor, steps: JobSteps): IngressHandler {
  return async ({ id, job, acknowledgement }) => {
    let acknowledged = false;
    try {
      // A job with presence changes publishes after its events: its acknowledgement is the consumer's.
      acknowledged = await processor.run(job, { jobId: id }, job.presence ? undefined : acknowledgement);
      if (job.presence) await steps.presence.run(job.presence, { jobId: id });
      if (job.occupancy) await steps.occupancy?.run(job.occupancy, { jobId: id });
    } catch (err) {
      steps.onJob('failed');
      throw err;
    }
    steps.onJob('completed');
    return acknowledged ? 'acknowledged' : undefined;
  };
}
