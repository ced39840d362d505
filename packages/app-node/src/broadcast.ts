import { type EmitCommand, encodeArgs } from '@iocluster/shared';
import type { CommandPublisher } from './command-publisher.js';

function asList(rooms: string | readonly string[]): string[] {
  return typeof rooms === 'string' ? [rooms] : [...rooms];
}

/**
 * Targets rooms across every io-node, like Socket.IO's `BroadcastOperator`: immutable, each call returns
 * a new operator. With no room it targets every client; `except` takes rooms or socket ids.
 */
export class BroadcastOperator {
  constructor(
    private readonly publisher: CommandPublisher,
    private readonly rooms: readonly string[] = [],
    private readonly exceptRooms: readonly string[] = [],
    private readonly isVolatile = false,
  ) {}

  /** Adds rooms to the target. */
  to(rooms: string | readonly string[]): BroadcastOperator {
    return new BroadcastOperator(
      this.publisher,
      [...this.rooms, ...asList(rooms)],
      this.exceptRooms,
      this.isVolatile,
    );
  }

  /** Alias of {@link BroadcastOperator.to}. */
  in(rooms: string | readonly string[]): BroadcastOperator {
    return this.to(rooms);
  }

  /** Leaves out the members of these rooms (a socket id is a room of one). */
  except(rooms: string | readonly string[]): BroadcastOperator {
    return new BroadcastOperator(
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
  get volatile(): BroadcastOperator {
    return new BroadcastOperator(this.publisher, this.rooms, this.exceptRooms, true);
  }

  /** Emits to every matching client on every io-node. */
  emit(event: string, ...args: unknown[]): true {
    const cmd: EmitCommand = { type: 'emit', event, ...encodeArgs(args) };
    if (this.rooms.length > 0) cmd.rooms = [...this.rooms];
    if (this.exceptRooms.length > 0) cmd.except = [...this.exceptRooms];
    if (this.isVolatile) cmd.volatile = true;
    this.publisher.publish(null, cmd);
    return true;
  }
}
