import {
  decodeArgs,
  type EmitCommand,
  type HistoryEntry,
  type HistoryPosition,
  type HistoryRead,
  type JoinCommand,
  type Logger,
  POSITION_EVENT,
  POSITIONED_EVENT,
  type RoomHistory,
  USER_ROOM_PREFIX,
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

/**
 * Whether a room of a socket is one it lists (`socket.rooms` on app-nodes, its recovery session, what a
 * recovery reports): not its own id, not the node's bookkeeping rooms, and not its user room, which it is
 * in for as long as it is connected whatever the application does (joined again at every connection).
 */
export function listedRoom(room: string, socketId: string): boolean {
  return room !== socketId && !room.startsWith(INTERNAL_ROOM_PREFIX) && !room.startsWith(USER_ROOM_PREFIX);
}

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
  /**
   * Holds this socket's positioned messages from now on (recovery). `positions` are where the client
   * says it stands in its rooms: until the node follows such a room, a message arriving for it is
   * delivered only after the ones between there and it are read (never before, never skipped).
   */
  hold(socket: Socket, positions: ReadonlyMap<string, HistoryPosition>): void;
  /** Stops holding and returns what was held, oldest first. */
  release(socket: Socket): HeldMessage[];
  /** Sends one positioned message to one socket (a replayed one, say). */
  send(socket: Socket, message: HeldMessage): void;
  /**
   * For a socket being recovered, once this node is routed the room: reads the room's history after
   * `since` (from further back when the node's other members stand there), delivers to those members
   * what they had not yet (the recovered socket holds them) so the node's inbox bringing them later
   * skips them, and from then on follows the room. Returns what came after `since`.
   */
  readSince(room: string, since: HistoryPosition, limit: number): Promise<HistoryRead>;
}

interface Followed {
  epoch: string;
  last: number;
}

/** Most messages read from the history to fill one gap. */
const MAX_GAP_READ = 1_000;

export function createRoomDelivery(io: Server, history: RoomHistory, logger: Logger): RoomDelivery {
  const adapter = io.of('/').adapter;
  /** Where the node stands in each room it delivers positioned messages for. */
  const followed = new Map<string, Followed>();
  /**
   * Rooms not followed yet whose only members are sockets being recovered: the lowest position they
   * claim. A message arriving first is delivered after the ones between (read from the history); any
   * higher claim is capped by that message, so no client can make the node skip one.
   */
  const floors = new Map<string, HistoryPosition>();
  const held = new Map<string, HeldMessage[]>();
  // A room this node no longer has members of is no longer followed: the next member starts afresh.
  adapter.on('delete-room', (room: string) => {
    followed.delete(room);
    floors.delete(room);
  });

  const members = (room: string) => adapter.rooms.get(room);

  function follow(room: string, state: Followed): Followed {
    followed.set(room, state);
    floors.delete(room);
    return state;
  }

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

  /** Delivers the entries after `state.last`, in order, and moves it on. */
  function deliverEntries(room: string, state: Followed, entries: readonly HistoryEntry[]): void {
    for (const entry of entries) {
      if (entry.offset <= state.last) continue;
      deliver(
        room,
        { epoch: state.epoch, offset: entry.offset },
        entry.event,
        decodeArgs(entry.args, entry.bin),
        entry.except,
      );
      state.last = entry.offset;
    }
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
    deliverEntries(
      room,
      state,
      found.entries.filter((entry) => entry.offset < upTo),
    );
  }

  /** Where to start following a room that a message reached first: see `floors`. */
  function start(room: string, { epoch, offset }: HistoryPosition): Followed {
    const floor = floors.get(room);
    if (floor?.epoch === epoch) return follow(room, { epoch, last: Math.min(floor.offset, offset - 1) });
    // Recovered sockets that stood where the room had no history yet wait for all of this epoch.
    if (floor?.epoch === '') return follow(room, { epoch, last: 0 });
    // Nobody here waits for earlier messages: follow the room from this one.
    return follow(room, { epoch, last: offset - 1 });
  }

  return {
    emit(cmd) {
      const room = cmd.rooms![0]!;
      const { epoch, offset } = cmd.history;
      const state = followed.get(room) ?? start(room, cmd.history);
      // A new epoch (the room had no history when its members joined, or its history was lost) starts at
      // offset 1: its earlier messages may still be on their way from other app-nodes, or need reading.
      if (state.epoch !== epoch) {
        state.epoch = epoch;
        state.last = 0;
      }
      const now = () => {
        // Delivered already (read to fill a gap, or for a recovery, or a job run twice)?
        if (state.epoch !== epoch || offset <= state.last) return;
        deliver(room, cmd.history, cmd.event, decodeArgs(cmd.args, cmd.bin), cmd.except);
        state.last = offset;
      };
      if (offset <= state.last + 1) return now();
      return fillGap(room, state, offset).then(now, (err: unknown) => {
        logger.warn({ err, room }, 'reading a gap from the room history failed; delivering on');
        now();
      });
    },
    joined(socket, cmd) {
      for (const [room, epoch, offset] of cmd.positions ?? []) {
        const state = followed.get(room);
        if (!state || state.epoch !== epoch) follow(room, { epoch, last: offset });
        if (socket?.rooms.has(CLIENT_ROOM)) socket.emit(POSITION_EVENT, room, epoch, offset);
      }
    },
    hold(socket, positions) {
      held.set(socket.id, []);
      void socket.join(HOLD_ROOM);
      for (const [room, position] of positions) {
        if (followed.has(room) || !socket.rooms.has(room)) continue;
        const floor = floors.get(room);
        const lower = !floor || (floor.epoch === position.epoch && position.offset < floor.offset);
        // Claims in different epochs: '' (no history yet) waits for the most.
        if (lower || position.epoch === '') floors.set(room, position);
      }
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
    async readSince(room, since, limit) {
      const known = followed.get(room);
      const from = known && known.epoch === since.epoch ? Math.min(known.last, since.offset) : since.offset;
      const found = await history.read(room, { since: { epoch: since.epoch, offset: from }, limit });
      if (found.position?.epoch === since.epoch) {
        const state = followed.get(room);
        if (state && state.epoch === since.epoch) {
          // Followed meanwhile from further back (a message came first): its own gap read covers that.
          if (state.last >= from) deliverEntries(room, state, found.entries);
        } else {
          // Everything appended after this read reaches the node live: follow from what it read (a
          // claim beyond the room's end counts as its end).
          const last = found.entries[found.entries.length - 1]?.offset;
          follow(room, { epoch: since.epoch, last: last ?? Math.min(from, found.position.offset) });
        }
      }
      return { ...found, entries: found.entries.filter((entry) => entry.offset > since.offset) };
    },
  };
}
