import type { Command, CustomCommand, Logger } from '@iocluster/shared';
import { decodeArgs } from '@iocluster/shared';
import type { Server, Socket } from 'socket.io';
import type { EventSequencer } from './event-sequencer.js';
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

/** Applies decoded commands to this node's Socket.IO server. Unknown targets are ignored. */
export function createCommandApplier(
  io: Server,
  sequencer: EventSequencer,
  roomRouting: RoomRouting,
  customHandlers: Readonly<Record<string, CustomCommandHandler>>,
  logger: Logger,
): (cmd: Command) => void {
  const sockets = io.of('/').sockets;
  return (cmd) => {
    switch (cmd.type) {
      case 'reply':
        sequencer.reply(cmd);
        return;
      case 'emit': {
        const args = decodeArgs(cmd.args, cmd.bin);
        if (cmd.socketId !== undefined) {
          sockets.get(cmd.socketId)?.emit(cmd.event, ...args);
          return;
        }
        // Socket.IO encodes a broadcast once and writes the same frames to every member.
        const target = cmd.rooms && cmd.rooms.length > 0 ? io.to(cmd.rooms) : io;
        (cmd.except && cmd.except.length > 0 ? target.except(cmd.except) : target).emit(cmd.event, ...args);
        return;
      }
      case 'join':
        // The adapter counts the socket's new memberships; this takes off the joins the app-node counted.
        void sockets.get(cmd.socketId)?.join(cmd.rooms);
        roomRouting.joinApplied(cmd.rooms);
        return;
      case 'leave': {
        const socket = sockets.get(cmd.socketId);
        if (socket) for (const room of cmd.rooms) void socket.leave(room);
        return;
      }
      case 'set-data': {
        const socket = sockets.get(cmd.socketId);
        if (socket) Object.assign(socket.data, cmd.data);
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
