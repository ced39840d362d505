import {
  decodeArgs,
  type EmitCommand,
  type HistoryEntry,
  type HistoryPosition,
  type JoinCommand,
  type Logger,
  type RoomHistory,
} from '@iocluster/shared';
import type { Server, Socket } from 'socket.io';

/**
 * Local rooms the node puts sockets in for its own bookkeeping (never routed, listed or persisted):
 * every socket is in exactly one of CLIENT_ROOM / PLAIN_ROOM, and a socket being recovered is in
 * HOLD_ROOM until its missed messages went out.
 */
export const INTERNAL_ROOM_PREFIX = '\u0000';
export const CLIENT_ROOM = '\u0000iocluster-client';
export const PLAIN_ROOM = '\u0000plain';
export const HOLD_ROOM = '\u0000recovering';

/** Server-to-client reserved events of the recovery protocol (docs/recovery.md). */
export const POSITIONED_EVENT = '$h';
export const POSITION_EVENT = '$pos';

/** A message held for a socket being recovered. */
export interface HeldMessage {
  room: string;
  position: HistoryPosition;
  event: string;
  args: unknown[];
}

/**
 * Delivers room messages that carry a history position: in offset order per room on this node (a
 * message that arrives ahead of one it follows waits while the missing ones are read from the history,
 * which always has them: app-nodes append there before they send), to `@iocluster/client` clients as
 * `$h (room, epoch, offset, event, ...args)` so they learn the position, to every other client as the
 * plain event. Sockets being recovered get them later, in order, after their missed messages.
 */
export interface RoomDelivery {
  /** Delivers a room emit with a history position; returns a promise while a gap is being read. */
  emit(cmd: EmitCommand & { history: HistoryPosition }): void | Promise<void>;
  /** A join was applied: start following the rooms' positions, tell a client where they stand. */
  joined(socket: Socket | undefined, cmd: JoinCommand): void;
  /** Holds this socket's positioned messages from now on (recovery). */
  hold(socket: Socket): void;
  /** Stops holding and returns what was held, oldest first. */
  release(socket: Socket): HeldMessage[];
  /** Sends one positioned message to one socket (a replayed one, say). */
  send(socket: Socket, message: HeldMessage): void;
  /**
   * A recovery read these entries of a room from its history: the node delivers those it had not yet
   * (to its other members; sockets being recovered hold them) and skips them when its inbox brings them
   * later. Without this, a message read from the history before the node's inbox delivered it would
   * reach the recovered socket twice.
   */
  advance(room: string, epoch: string, entries: readonly HistoryEntry[]): void;
}

interface Followed {
  epoch: string;
  last: number;
}

/** Most messages read from the history to fill one gap. */
const MAX_GAP_READ = 1_000;

export function createRoomDelivery(io: Server, history: RoomHistory, logger: Logger): RoomDelivery {
  const adapter = io.of('/').adapter;
  const followed = new Map<string, Followed>();
  const held = new Map<string, HeldMessage[]>();
  // A room this node no longer has members of is no longer followed: the next member starts afresh.
  adapter.on('delete-room', (room: string) => followed.delete(room));

  const members = (room: string) => adapter.rooms.get(room);

  function excluded(socket: Socket, except: readonly string[] | undefined): boolean {
    if (!except) return false;
    for (const name of except) if (name === socket.id || socket.rooms.has(name)) return true;
    return false;
  }

  function deliver(
    room: string,
    position: HistoryPosition,
    event: string,
    args: unknown[],
    except?: string[],
  ) {
    const skip = [...(except ?? []), HOLD_ROOM];
    if ((members(PLAIN_ROOM)?.size ?? 0) > 0)
      io.to(room)
        .except([...skip, CLIENT_ROOM])
        .emit(event, ...args);
    if ((members(CLIENT_ROOM)?.size ?? 0) > 0) {
      io.to(room)
        .except([...skip, PLAIN_ROOM])
        .emit(POSITIONED_EVENT, room, position.epoch, position.offset, event, ...args);
    }
    const holding = members(HOLD_ROOM);
    if (!holding || holding.size === 0) return;
    const inRoom = members(room);
    for (const id of holding) {
      const socket = io.of('/').sockets.get(id);
      if (!socket || !inRoom?.has(id) || excluded(socket, except)) continue;
      held.get(id)?.push({ room, position, event, args });
    }
  }

  function deliverEntry(room: string, epoch: string, entry: HistoryEntry): void {
    deliver(
      room,
      { epoch, offset: entry.offset },
      entry.event,
      decodeArgs(entry.args, entry.bin),
      entry.except,
    );
  }

  async function fillGap(room: string, state: Followed, upTo: number): Promise<void> {
    const found = await history.read(room, {
      since: { epoch: state.epoch, offset: state.last },
      limit: Math.min(upTo - state.last - 1, MAX_GAP_READ),
    });
    if (!found.complete) {
      logger.warn(
        { room, after: state.last, upTo },
        'room messages missing from the history (trimmed or expired) were skipped',
      );
    }
    for (const entry of found.entries) {
      if (entry.offset <= state.last || entry.offset >= upTo) continue;
      deliverEntry(room, state.epoch, entry);
      state.last = entry.offset;
    }
  }

  return {
    emit(cmd) {
      const room = cmd.rooms![0]!;
      const { epoch, offset } = cmd.history;
      const state = followed.get(room);
      const now = () => {
        deliver(room, cmd.history, cmd.event, decodeArgs(cmd.args, cmd.bin), cmd.except);
        followed.set(room, { epoch, last: offset });
      };
      // A room seen for the first time here: what came before is unknown; follow it from this message.
      if (!state) return now();
      // A new epoch (the room had no history when its members joined, or its history was lost) starts at
      // offset 1: its earlier messages may still be on their way from other app-nodes, or need reading.
      if (state.epoch !== epoch) {
        state.epoch = epoch;
        state.last = 0;
      }
      if (offset <= state.last) return; // delivered already (read to fill a gap, or a job run twice)
      if (offset === state.last + 1) return now();
      return fillGap(room, state, offset).then(now, (err: unknown) => {
        logger.warn({ err, room }, 'reading a gap from the room history failed; delivering on');
        now();
      });
    },
    joined(socket, cmd) {
      for (const [room, epoch, offset] of cmd.positions ?? []) {
        const state = followed.get(room);
        if (!state || state.epoch !== epoch) followed.set(room, { epoch, last: offset });
        if (socket?.rooms.has(CLIENT_ROOM)) socket.emit(POSITION_EVENT, room, epoch, offset);
      }
    },
    hold(socket) {
      held.set(socket.id, []);
      void socket.join(HOLD_ROOM);
    },
    release(socket) {
      const messages = held.get(socket.id) ?? [];
      held.delete(socket.id);
      void socket.leave(HOLD_ROOM);
      return messages;
    },
    send(socket, { room, position, event, args }) {
      socket.emit(POSITIONED_EVENT, room, position.epoch, position.offset, event, ...args);
    },
    advance(room, epoch, entries) {
      const last = entries[entries.length - 1];
      if (!last) return;
      const state = followed.get(room);
      if (!state || state.epoch !== epoch) {
        // Not followed here yet: nobody on this node waits for these; go on from the last one read.
        followed.set(room, { epoch, last: last.offset });
        return;
      }
      for (const entry of entries) {
        if (entry.offset <= state.last) continue;
        deliverEntry(room, epoch, entry);
        state.last = entry.offset;
      }
    },
  };
}
