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
  ) {}

  /** Adds rooms to the target. */
  to(rooms: string | readonly string[]): BroadcastOperator {
    return new BroadcastOperator(this.publisher, [...this.rooms, ...asList(rooms)], this.exceptRooms);
  }

  /** Alias of {@link BroadcastOperator.to}. */
  in(rooms: string | readonly string[]): BroadcastOperator {
    return this.to(rooms);
  }

  /** Leaves out the members of these rooms (a socket id is a room of one). */
  except(rooms: string | readonly string[]): BroadcastOperator {
    return new BroadcastOperator(this.publisher, this.rooms, [...this.exceptRooms, ...asList(rooms)]);
  }

  /** Emits to every matching client on every io-node. */
  emit(event: string, ...args: unknown[]): true {
    const cmd: EmitCommand = { type: 'emit', event, ...encodeArgs(args) };
    if (this.rooms.length > 0) cmd.rooms = [...this.rooms];
    if (this.exceptRooms.length > 0) cmd.except = [...this.exceptRooms];
    this.publisher.publish(null, cmd);
    return true;
  }
}
