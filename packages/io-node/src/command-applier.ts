import type { Command, CustomCommand, Logger } from '@iocluster/shared';
import { decodeArgs } from '@iocluster/shared';
import type { Server, Socket } from 'socket.io';
import type { EventSequencer } from './event-sequencer.js';
import type { PresenceTracker } from './presence-tracker.js';
import { createRecentIds } from './recent-ids.js';
import type { RoomDelivery } from './room-delivery.js';
import type { RoomRouting } from './room-routing.js';

/** What a custom command hook gets besides the command's payload. */
export interface CustomCommandContext {
  /** The node's Socket.IO server. */
  io: Server;
  /** The target socket when the command named one held by this node. */
  socket: Socket | undefined;
  command: CustomCommand;
}

/** Handles a custom command type on an io-node; registered by name in `IoNodeOptions.commandHandlers`. */
export type CustomCommandHandler = (payload: unknown, context: CustomCommandContext) => void;

/** The modules a command may touch besides the Socket.IO server. */
export interface ApplierParts {
  sequencer: Pick<EventSequencer, 'reply'>;
  roomRouting: Pick<RoomRouting, 'joinApplied'>;
  delivery: Pick<RoomDelivery, 'emit' | 'joined'>;
  presence: Pick<PresenceTracker, 'joined'>;
  /** A socket's data changed (its recovery session is rewritten). */
  dataChanged: (socket: Socket) => void;
  /** Each command applied (a repeated `once` emit is not). */
  applied: (cmd: Command) => void;
  /** Applies the selection and ack commands (selection-commands.ts); false for any other command. */
  selections: (cmd: Command) => boolean;
}

/** Emit ids (`once`) remembered: far more than a rerun job can repeat in the seconds it takes. */
const ONCE_IDS_REMEMBERED = 10_000;

/**
 * Applies decoded commands to this node, each whole and in the order given: an emit marked `once` that
 * was applied already is dropped, then the command is applied to the Socket.IO server, then its presence
 * part is written (a join's roster entry once Socket.IO holds the membership), then the socket's
 * recovery session learns of what changed. Unknown targets are ignored. Returns a promise only while a
 * room's history gap is read (the commands after it must wait, see `CommandSubscriber`).
 */
export function createCommandApplier(
  io: Server,
  { sequencer, roomRouting, delivery, presence, dataChanged, applied, selections }: ApplierParts,
  customHandlers: Readonly<Record<string, CustomCommandHandler>>,
  logger: Logger,
): (cmd: Command) => void | Promise<void> {
  const sockets = io.of('/').sockets;
  const onceIds = createRecentIds(ONCE_IDS_REMEMBERED);
  return (cmd) => {
    if (cmd.type === 'emit' && cmd.once !== undefined && !onceIds.first(cmd.once)) return;
    applied(cmd);
    if (selections(cmd)) return;
    switch (cmd.type) {
      case 'reply':
        sequencer.reply(cmd);
        return;
      case 'emit': {
        if (cmd.history) return delivery.emit({ ...cmd, history: cmd.history });
        const args = decodeArgs(cmd.args, cmd.bin);
        if (cmd.socketId !== undefined) {
          const socket = sockets.get(cmd.socketId);
          (cmd.volatile ? socket?.volatile : socket)?.emit(cmd.event, ...args);
          return;
        }
        // Socket.IO encodes a broadcast once and writes the same frames to every member; a volatile one
        // skips members whose transport is not writable (Socket.IO's own check).
        // With no rooms, an operator leaving nobody out: every client.
        let target = cmd.rooms && cmd.rooms.length > 0 ? io.to(cmd.rooms) : io.except([]);
        if (cmd.volatile) target = target.volatile;
        (cmd.except && cmd.except.length > 0 ? target.except(cmd.except) : target).emit(cmd.event, ...args);
        return;
      }
      case 'join': {
        // The adapter counts the socket's new memberships; this takes off the joins the app-node counted.
        const socket = sockets.get(cmd.socketId);
        void socket?.join(cmd.rooms);
        roomRouting.joinApplied(cmd.rooms);
        delivery.joined(socket, cmd);
        if (socket && cmd.presence !== undefined) {
          presence.joined(socket, cmd.rooms, cmd.presence);
          // Its session keeps the presence meta of each room, for a recovery to restore.
          dataChanged(socket);
        }
        return;
      }
      case 'leave': {
        const socket = sockets.get(cmd.socketId);
        if (socket) for (const room of cmd.rooms) void socket.leave(room);
        return;
      }
      case 'set-data': {
        const socket = sockets.get(cmd.socketId);
        if (socket) {
          Object.assign(socket.data, cmd.data);
          dataChanged(socket);
        }
        return;
      }
      case 'disconnect':
        sockets.get(cmd.socketId)?.disconnect(cmd.close === true);
        return;
      case 'custom': {
        const handler = customHandlers[cmd.name];
        if (!handler) {
          logger.warn({ name: cmd.name }, 'custom command with no handler on this node dropped');
          return;
        }
        const socket = cmd.socketId === undefined ? undefined : sockets.get(cmd.socketId);
        if (cmd.socketId !== undefined && !socket) return;
        handler(cmd.payload, { io, socket, command: cmd });
        return;
      }
    }
  };
}
