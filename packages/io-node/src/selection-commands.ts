import {
  type AckAnswer,
  type ClientInfo,
  type Command,
  type CommandSubscriber,
  decodeArgs,
  type EmitAckCommand,
  encodeArgs,
  type Logger,
  type ReplyResult,
  type RequestRef,
  type Selection,
  type SocketDescription,
} from '@iocluster/shared';
import type { Server, Socket } from 'socket.io';

/** What the selection commands need from the node. */
export interface SelectionParts {
  /** A socket as app-nodes see it. */
  describe(socket: Socket): ClientInfo;
  /** Tells the client why, then disconnects it. */
  kick(socket: Socket, code: string, message: string): void;
  /** The reply path to requesters. */
  reply: CommandSubscriber['reply'];
  /** Resolves once this node's routing counts so far are written. */
  routingFlushed(): Promise<void>;
  logger: Logger;
}

/**
 * The sockets of this node a selection picks: members of its rooms (every socket when it names none)
 * but the members of its `except` rooms (a socket id is the room of that socket alone).
 */
export function selectLocal(io: Server, select: Selection): Socket[] {
  const { adapter, sockets } = io.of('/');
  const ids = new Set<string>();
  if (!select.rooms || select.rooms.length === 0) for (const id of sockets.keys()) ids.add(id);
  else for (const room of select.rooms) for (const id of adapter.rooms.get(room) ?? []) ids.add(id);
  for (const room of select.except ?? []) for (const id of adapter.rooms.get(room) ?? []) ids.delete(id);
  const picked: Socket[] = [];
  for (const id of ids) {
    const socket = sockets.get(id);
    if (socket) picked.push(socket);
  }
  return picked;
}

/** A socket's description for `fetchSockets`: without its session secret. */
function described(info: ClientInfo): SocketDescription {
  const { session: _session, origin: _origin, ...rest } = info;
  return rest;
}

/**
 * Applies the commands that work on a selection of sockets (`sockets-join`, `sockets-leave`,
 * `sockets-disconnect`, `fetch-sockets`) and emits that wait for the clients' acks (`emit-ack`), and
 * answers the requests among them on the reply path: `done` once applied (a join once this node's
 * routing counts are written, so an emit published after the requester heard back reaches the new
 * members), the descriptions, or the acks that came within the command's timeout. Returns false for any
 * other command.
 */
export function createSelectionCommands(io: Server, parts: SelectionParts): (cmd: Command) => boolean {
  const { logger } = parts;
  const answer = (request: RequestRef | undefined, result: ReplyResult | Promise<ReplyResult>) => {
    if (!request) return;
    Promise.resolve(result)
      .then((value) => parts.reply(request.replyTo, request.id, value))
      .catch((err: unknown) => logger.warn({ err, requestId: request.id }, 'answering a request failed'));
  };

  function emitWithAck(cmd: EmitAckCommand): Promise<ReplyResult> {
    const sockets =
      cmd.socketId !== undefined ? [io.of('/').sockets.get(cmd.socketId)] : selectLocal(io, cmd.select!);
    const args = decodeArgs(cmd.args, cmd.bin);
    const answers: AckAnswer[] = [];
    const missing: string[] = [];
    if (cmd.socketId !== undefined && !sockets[0]) missing.push(cmd.socketId);
    return Promise.all(
      sockets.map(
        (socket) =>
          new Promise<void>((resolve) => {
            if (!socket) return resolve();
            socket
              .timeout(cmd.timeoutMs)
              .emit(cmd.event, ...args, (err: Error | null, ...answer: unknown[]) => {
                if (err) missing.push(socket.id);
                else answers.push({ socketId: socket.id, ...encodeArgs(answer) });
                resolve();
              });
          }),
      ),
    ).then(() => ({ type: 'acks', answers, missing }));
  }

  return (cmd) => {
    switch (cmd.type) {
      case 'sockets-join': {
        const sockets = selectLocal(io, cmd.select);
        for (const socket of sockets) void socket.join(cmd.rooms);
        answer(
          cmd.request,
          parts.routingFlushed().then(() => ({ type: 'done', count: sockets.length })),
        );
        return true;
      }
      case 'sockets-leave': {
        const sockets = selectLocal(io, cmd.select);
        for (const socket of sockets) for (const room of cmd.rooms) void socket.leave(room);
        answer(cmd.request, { type: 'done', count: sockets.length });
        return true;
      }
      case 'sockets-disconnect': {
        const sockets = selectLocal(io, cmd.select);
        for (const socket of sockets) {
          if (cmd.reason !== undefined) parts.kick(socket, 'DISCONNECTED', cmd.reason);
          else socket.disconnect(cmd.close === true);
        }
        answer(cmd.request, { type: 'done', count: sockets.length });
        return true;
      }
      case 'fetch-sockets':
        answer(cmd.request, {
          type: 'sockets',
          sockets: selectLocal(io, cmd.select).map((socket) => described(parts.describe(socket))),
        });
        return true;
      case 'emit-ack':
        answer(cmd.request, emitWithAck(cmd));
        return true;
      default:
        return false;
    }
  };
}
