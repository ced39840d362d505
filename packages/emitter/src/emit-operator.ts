import {
  type BroadcastAcks,
  broadcastWithAck,
  type CommandPublisher,
  changeSelection,
  type DefaultEventsMap,
  type EmitCommand,
  type EventNames,
  type EventParams,
  encodeArgs,
  fetchDescriptions,
  type HistoryPosition,
  type OperatorTarget,
  RESERVED_PREFIX,
  type SelectionChange,
  type SocketDescription,
  TargetOperator,
} from '@iocluster/shared';

/** A message an emit recorded in a room's history. */
export interface RecordedMessage {
  room: string;
  position: HistoryPosition;
}

/** What an emit resolves with, once its commands are in Redis. */
export interface EmitResult {
  /** One entry per target room that keeps history, in the order the rooms were named; empty when none. */
  recorded: RecordedMessage[];
}

/** Sends one command and resolves once it is in Redis, with what it recorded. */
export async function sendEmit(publisher: CommandPublisher, cmd: EmitCommand): Promise<EmitResult> {
  const since = publisher.position();
  const recorded = publisher.publish(null, cmd);
  await publisher.flush(since);
  return { recorded: recorded.map((part) => ({ room: part.rooms![0]!, position: part.history! })) };
}

function asList(rooms: string | readonly string[]): string[] {
  return typeof rooms === 'string' ? [rooms] : [...rooms];
}

/** What an operator sends through: the publisher, and the reply path its requests need opened first. */
export interface OperatorContext {
  readonly publisher: CommandPublisher;
  /** Resolves once answers to requests can be received (the reply inbox is subscribed). */
  repliesReady(): Promise<void>;
}

/**
 * Targets rooms across every io-node from outside the cluster, like Socket.IO's emitter: immutable, each
 * call returns a new operator; with no room it targets every client; `except` takes rooms or socket ids.
 * Unlike an app-node's operator, `emit` resolves once the message is in Redis, with the history position
 * of each room that keeps history.
 * @typeParam ServerEvents - events clients receive (name → listener signature); any by default
 */
export class EmitOperator<ServerEvents extends object = DefaultEventsMap> extends TargetOperator<
  EmitOperator<ServerEvents>
> {
  constructor(
    private readonly context: OperatorContext,
    target?: OperatorTarget,
  ) {
    super(target);
  }

  protected derive(target: OperatorTarget): EmitOperator<ServerEvents> {
    return new EmitOperator<ServerEvents>(this.context, target);
  }

  /** Emits to every matching client on every io-node; resolves once the message is in Redis. */
  emit<E extends EventNames<ServerEvents>>(
    event: E,
    ...args: EventParams<ServerEvents, E>
  ): Promise<EmitResult> {
    if (typeof event !== 'string' || event.length === 0) {
      return Promise.reject(new TypeError('emit(): event must be a non-empty string'));
    }
    if (event.startsWith(RESERVED_PREFIX)) {
      return Promise.reject(
        new TypeError(`emit("${event}"): names starting with "${RESERVED_PREFIX}" are reserved`),
      );
    }
    const cmd: EmitCommand = { ...this.emitCommand(event), ...encodeArgs(args as unknown[]) };
    return sendEmit(this.context.publisher, cmd);
  }

  /**
   * Emits to every matching client with an acknowledgement and resolves once each answered or its time
   * (`timeout(ms)`, 5 s by default) ran out: the answers, and the sockets (`missing`) and io-nodes
   * (`missingNodes`) that did not answer. Never rejects for a silent client.
   */
  async emitWithAck(event: string, ...args: unknown[]): Promise<BroadcastAcks> {
    await this.context.repliesReady();
    return broadcastWithAck(this.context.publisher, this.selection(), this.ackTimeout(), event, args);
  }

  /**
   * The matching sockets on every io-node, as descriptions (`id`, `nodeId`, `user`, `data`, `rooms`,
   * `handshake`); act on one with `emitter.to(socket.id)`. Sockets of an io-node that did not answer in
   * time are left out.
   */
  async fetchSockets(): Promise<SocketDescription[]> {
    await this.context.repliesReady();
    return fetchDescriptions(this.context.publisher, this.selection(), this.requestTimeout());
  }

  /** Makes the matching sockets join `rooms`; resolves once every io-node holding them applied it. */
  socketsJoin(rooms: string | readonly string[]): Promise<SelectionChange> {
    const list = asList(rooms);
    return this.change((request) => ({
      type: 'sockets-join',
      select: this.selection(),
      rooms: list,
      request,
    }));
  }

  /** Makes the matching sockets leave `rooms`; resolves once applied everywhere. */
  socketsLeave(rooms: string | readonly string[]): Promise<SelectionChange> {
    const list = asList(rooms);
    return this.change((request) => ({
      type: 'sockets-leave',
      select: this.selection(),
      rooms: list,
      request,
    }));
  }

  /**
   * Disconnects the matching sockets (`close`: their connections too); with a `reason`, each client is
   * told it first as a `$error` `{ code: 'DISCONNECTED', message: reason }`.
   */
  disconnectSockets(close = false, reason?: string): Promise<SelectionChange> {
    return this.change((request) => ({
      type: 'sockets-disconnect',
      select: this.selection(),
      close,
      ...(reason === undefined ? {} : { reason: String(reason) }),
      request,
    }));
  }

  private async change(build: Parameters<typeof changeSelection>[1]): Promise<SelectionChange> {
    await this.context.repliesReady();
    return changeSelection(this.context.publisher, build, this.requestTimeout());
  }
}
