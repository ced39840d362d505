import { type DefaultEventsMap, encodeArgs } from '@iocluster/shared';
import { BroadcastOperator } from './broadcast.js';
import { RemoteSocket } from './remote-socket.js';

export type { AckEmitter, JoinOptions } from './remote-socket.js';

/** What `socket.volatile` offers: emits that may be lost and are never kept in a room's history. */
export interface VolatileSocket {
  /** Emits to this client; dropped if its connection cannot take it now. */
  emit(event: string, ...args: unknown[]): true;
  /** Targets rooms, leaving this client out, with volatile emits. */
  to(rooms: string | readonly string[]): BroadcastOperator;
}

/**
 * A client as seen from an app-node: rebuilt from the job's ClientInfo, so any app-node can serve it.
 * Changes (`setData`, `join`, `leave`) are sent to the io-node holding the client and mirrored here at
 * once, so later events of the same job see them; later jobs carry them from the io-node.
 * @typeParam ServerEvents - events the client receives (name → listener signature); any by default
 * @typeParam SocketData - the shape of `data`; any JSON object by default
 * @typeParam User - what the io-node's `authenticate` hook returns (JWT claims, say); `unknown` by
 *   default. Declare `Claims | null` when io-nodes admit anonymous clients.
 */
export class AppSocket<
  ServerEvents extends object = DefaultEventsMap,
  SocketData extends object = Record<string, unknown>,
  User = unknown,
> extends RemoteSocket<ServerEvents, SocketData, User> {
  /**
   * In the `connection` handler: set when the client came back within the recovery window (to any
   * io-node) with its rooms and data restored, so setup done at its first connection can be skipped.
   */
  recovered: { previousId: string } | undefined;

  /**
   * Socket.IO's `volatile`: `socket.volatile.emit(...)` may be lost (its io-node drops it while the
   * client's connection cannot take it), and `socket.volatile.to(room).emit(...)` is never kept in the
   * room's history either.
   */
  get volatile(): VolatileSocket {
    return {
      emit: (event, ...args) => {
        const cmd = { type: 'emit', event, socketId: this.id, ...encodeArgs(args), volatile: true } as const;
        this.publisher.publish(this.nodeId, cmd);
        return true;
      },
      to: (rooms) => this.to(rooms).volatile,
    };
  }

  /** Targets rooms, leaving this client out (Socket.IO's `socket.to(room).emit`). */
  to(rooms: string | readonly string[]): BroadcastOperator<ServerEvents> {
    return new BroadcastOperator<ServerEvents>(this.publisher).to(rooms).except(this.id);
  }

  /** Alias of {@link AppSocket.to}. */
  in(rooms: string | readonly string[]): BroadcastOperator<ServerEvents> {
    return this.to(rooms);
  }

  /** Every client but this one. */
  get broadcast(): BroadcastOperator<ServerEvents> {
    return new BroadcastOperator<ServerEvents>(this.publisher).except(this.id);
  }
}
