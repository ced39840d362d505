import {
  type ClientBatch,
  decodeArgs,
  encodeArgs,
  type IngressEvent,
  type IngressJob,
  IoclusterError,
  type Logger,
  type ReplyCommand,
  toAckError,
} from '@iocluster/shared';
import { AppSocket } from './app-socket.js';
import type { CommandPublisher } from './command-publisher.js';
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
  /** A handler still pending after this is answered TIMEOUT and its batch moves on. */
  handlerTimeoutMs: number;
  /** The answer kept for event `eid` of a session, if its first run finished (see `CommandPublisher.reply`). */
  earlierAnswer: (
    session: string,
    eid: string,
  ) => Promise<Omit<ReplyCommand, 'type' | 'socketId' | 'seq'> | null>;
  /** Told how long each event with a handler took (middleware and handler), for metrics. @defaultValue none */
  onHandled?(event: string, seconds: number): void;
  /** Told of every client event that found no handler (its client, and whether it asked for an ack). @defaultValue none */
  onUnhandled?(event: string, from: UnhandledEventSource): void;
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

  async run(job: IngressJob, context: JobContext): Promise<void> {
    const since = this.publisher.position();
    await Promise.all(job.batches.map((batch) => this.runClient(batch, context)));
    await this.publisher.flush(since);
  }

  private async runClient({ client, events }: ClientBatch, context: JobContext): Promise<void> {
    const socket = new AppSocket(client, this.publisher);
    for (const event of events) {
      if (event.kind !== 'connect' && !this.seen.has(socket.id)) {
        // First sight of a client another app-node (or this one before a restart) saw connect.
        this.seen.add(socket.id);
        await this.call('no-client', socket, [], event, context);
      }
      let reply: ReplyCommand;
      switch (event.kind) {
        case 'connect':
          this.seen.add(socket.id);
          socket.recovered = event.recovery;
          reply = await this.call('connection', socket, [], event, context);
          break;
        case 'disconnect':
          reply = await this.call('disconnect', socket, [event.reason], event, context);
          this.seen.delete(socket.id);
          break;
        case 'event': {
          const earlier =
            event.resent && event.eid && client.session
              ? await this.options.earlierAnswer(client.session, event.eid)
              : null;
          // A resend of an event whose first run finished gets that run's answer; the handler stays put.
          reply = earlier
            ? { ...earlier, type: 'reply', socketId: socket.id, seq: event.seq }
            : await this.call(event.name, socket, decodeArgs(event.args, event.bin), event, context);
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

  private async call(
    name: string,
    socket: AppSocket,
    args: unknown[],
    event: IngressEvent,
    context: JobContext,
  ): Promise<ReplyCommand> {
    const reply: ReplyCommand = { type: 'reply', socketId: socket.id, seq: event.seq };
    const handler = this.table.handlers.get(name);
    const started = performance.now();
    try {
      if (event.kind === 'event') {
        for (const middleware of this.table.middleware) await middleware(socket, name, args);
        if (!handler) {
          if (event.ack) reply.error = { code: 'NO_HANDLER', message: `no handler for event "${name}"` };
          this.options.onUnhandled?.(name, {
            clientId: socket.id,
            ioNodeId: socket.nodeId,
            acked: event.ack,
          });
          return reply;
        }
      }
      if (!handler) return reply;
      const returned = handler(socket, ...args);
      const result = isThenable(returned) ? await this.bounded(returned, name) : returned;
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

  /** Waits for a handler's promise, at most `handlerTimeoutMs`: a hung handler must not hold its job. */
  private bounded(promise: PromiseLike<unknown>, name: string): Promise<unknown> {
    const ms = this.options.handlerTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new IoclusterError('TIMEOUT', `handler for "${name}" did not finish within ${ms} ms`)),
        ms,
      );
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}
