import type { CommandPublisher } from '@iocluster/shared';
import {
  type DefaultEventsMap,
  type EmitCommand,
  type EventNames,
  type EventParams,
  encodeArgs,
} from '@iocluster/shared';

function asList(rooms: string | readonly string[]): string[] {
  return typeof rooms === 'string' ? [rooms] : [...rooms];
}

/**
 * Targets rooms across every io-node, like Socket.IO's `BroadcastOperator`: immutable, each call returns
 * a new operator. With no room it targets every client; `except` takes rooms or socket ids.
 * @typeParam ServerEvents - events clients receive (name → listener signature); any by default
 */
export class BroadcastOperator<ServerEvents extends object = DefaultEventsMap> {
  constructor(
    private readonly publisher: CommandPublisher,
    private readonly rooms: readonly string[] = [],
    private readonly exceptRooms: readonly string[] = [],
    private readonly isVolatile = false,
  ) {}

  /** Adds rooms to the target. */
  to(rooms: string | readonly string[]): BroadcastOperator<ServerEvents> {
    return new BroadcastOperator<ServerEvents>(
      this.publisher,
      [...this.rooms, ...asList(rooms)],
      this.exceptRooms,
      this.isVolatile,
    );
  }

  /** Alias of {@link BroadcastOperator.to}. */
  in(rooms: string | readonly string[]): BroadcastOperator<ServerEvents> {
    return this.to(rooms);
  }

  /** Leaves out the members of these rooms (a socket id is a room of one). */
  except(rooms: string | readonly string[]): BroadcastOperator<ServerEvents> {
    return new BroadcastOperator<ServerEvents>(
      this.publisher,
      this.rooms,
      [...this.exceptRooms, ...asList(rooms)],
      this.isVolatile,
    );
  }

  /**
   * Socket.IO's `volatile`: the message may be lost. It is never kept in a room's history (so recovery
   * does not replay it), and an io-node drops it for a client whose connection cannot take it now.
   * For what is stale a moment later: typing indicators, cursors.
   */
  get volatile(): BroadcastOperator<ServerEvents> {
    return new BroadcastOperator<ServerEvents>(this.publisher, this.rooms, this.exceptRooms, true);
  }

  /** Emits to every matching client on every io-node. */
  emit<E extends EventNames<ServerEvents>>(event: E, ...args: EventParams<ServerEvents, E>): true {
    const cmd: EmitCommand = { type: 'emit', event, ...encodeArgs(args as unknown[]) };
    if (this.rooms.length > 0) cmd.rooms = [...this.rooms];
    if (this.exceptRooms.length > 0) cmd.except = [...this.exceptRooms];
    if (this.isVolatile) cmd.volatile = true;
    this.publisher.publish(null, cmd);
    return true;
  }
}
