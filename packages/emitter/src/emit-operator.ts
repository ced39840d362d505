import {
  type CommandPublisher,
  type DefaultEventsMap,
  type EmitCommand,
  type EventNames,
  type EventParams,
  encodeArgs,
  type HistoryPosition,
  RESERVED_PREFIX,
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

/**
 * Targets rooms across every io-node from outside the cluster, like Socket.IO's emitter: immutable, each
 * call returns a new operator; with no room it targets every client; `except` takes rooms or socket ids.
 * Unlike an app-node's operator, `emit` resolves once the message is in Redis, with the history position
 * of each room that keeps history.
 * @typeParam ServerEvents - events clients receive (name → listener signature); any by default
 */
export class EmitOperator<ServerEvents extends object = DefaultEventsMap> {
  constructor(
    private readonly publisher: CommandPublisher,
    private readonly rooms: readonly string[] = [],
    private readonly exceptRooms: readonly string[] = [],
    private readonly isVolatile = false,
  ) {}

  /** Adds rooms to the target. */
  to(rooms: string | readonly string[]): EmitOperator<ServerEvents> {
    return new EmitOperator<ServerEvents>(
      this.publisher,
      [...this.rooms, ...asList(rooms)],
      this.exceptRooms,
      this.isVolatile,
    );
  }

  /** Alias of {@link EmitOperator.to}. */
  in(rooms: string | readonly string[]): EmitOperator<ServerEvents> {
    return this.to(rooms);
  }

  /** Leaves out the members of these rooms (a socket id is a room of one). */
  except(rooms: string | readonly string[]): EmitOperator<ServerEvents> {
    return new EmitOperator<ServerEvents>(
      this.publisher,
      this.rooms,
      [...this.exceptRooms, ...asList(rooms)],
      this.isVolatile,
    );
  }

  /**
   * Socket.IO's `volatile`: the message may be lost. It is never kept in a room's history (so recovery
   * does not replay it), and an io-node drops it for a client whose connection cannot take it now.
   */
  get volatile(): EmitOperator<ServerEvents> {
    return new EmitOperator<ServerEvents>(this.publisher, this.rooms, this.exceptRooms, true);
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
    const cmd: EmitCommand = { type: 'emit', event, ...encodeArgs(args as unknown[]) };
    if (this.rooms.length > 0) cmd.rooms = [...new Set(this.rooms)];
    if (this.exceptRooms.length > 0) cmd.except = [...this.exceptRooms];
    if (this.isVolatile) cmd.volatile = true;
    return sendEmit(this.publisher, cmd);
  }
}
