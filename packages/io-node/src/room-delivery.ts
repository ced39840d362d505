import {
  decodeArgs,
  type EmitCommand,
  type HistoryEntry,
  type HistoryPosition,
  type HistoryRead,
  type JoinCommand,
  type Logger,
  MAX_REWIND,
  POSITION_EVENT,
  POSITIONED_EVENT,
  type RewindSpec,
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
  /**
   * A join was applied: start following the rooms' positions, tell a client where they stand, and with
   * `rewind`, send the socket the rooms' last messages before any live one (see `rewind`).
   */
  joined(socket: Socket | undefined, cmd: JoinCommand): void;
  /**
   * Holds this socket's positioned messages from now on (recovery, rewind). `positions` are where the
   * client says it stands in its rooms: until the node follows such a room, a message arriving for it is
   * delivered only after the ones between there and it are read (never before, never skipped). Holds
   * nest: messages are held until every hold is released.
   */
  hold(socket: Socket, positions: ReadonlyMap<string, HistoryPosition>): void;
  /**
   * Ends one hold. When it was the last, returns what was held, oldest first, without the messages at
   * or before a position the socket was given them up to (`skipUpTo`); else returns nothing.
   */
  release(socket: Socket): HeldMessage[];
  /** Ends every hold of a socket that went away, dropping what was held. */
  drop(socket: Socket): void;
  /** Sends one positioned message to one socket (a replayed one, say): as `$h` to `@iocluster/client`. */
  send(socket: Socket, message: HeldMessage): void;
  /**
   * For a socket that just joined rooms with history: holds its positioned messages, reads each room's
   * history up to where this node stands in it (at least the join's position), delivers to the room's
   * other members on this node whatever of that they had not had yet (so the inbox bringing it later
   * skips it), sends the socket the messages `spec` selects, and releases the hold without the messages
   * up to there. Resolves once done (a failed read is logged; nothing is rewound for that room).
   */
  rewind(
    socket: Socket,
    positions: readonly HistoryPosition[],
    rooms: readonly string[],
    spec: RewindSpec,
  ): Promise<void>;
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
  /** Holds open per socket (recovery and rewinds may overlap). */
  const holds = new Map<string, number>();
  /** Per held socket and room: the position up to which it was given the room's messages already. */
  const skips = new Map<string, Map<string, HistoryPosition>>();
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

  function drop(socket: Socket): void {
    if (!holds.delete(socket.id)) return;
    held.delete(socket.id);
    skips.delete(socket.id);
    void socket.leave(HOLD_ROOM);
  }

  function send(socket: Socket, { room, position, event, args }: HeldMessage): void {
    if (socket.rooms.has(CLIENT_ROOM)) {
      socket.emit(POSITIONED_EVENT, room, position.epoch, position.offset, event, ...args);
    } else socket.emit(event, ...args);
  }

  /** Reads one room for a rewind: delivers the room's gap up to `upTo`, returns what the socket gets. */
  async function rewindRoom(
    socket: Socket,
    room: string,
    { epoch, offset: upTo }: HistoryPosition,
    spec: RewindSpec,
  ): Promise<HeldMessage[]> {
    const start = followed.get(room);
    const gap = start && start.epoch === epoch ? upTo - start.last : 0;
    const limit = Math.min(MAX_REWIND, Math.max(spec.count ?? MAX_REWIND, gap));
    const found = await history.read(room, { until: upTo, limit });
    if (found.position?.epoch !== epoch) return [];
    const state = followed.get(room);
    // Messages up to `upTo` this node has not delivered yet are on their way: deliver them now, in order,
    // when the read reaches back to them (else the inbox and its own gap reads bring them).
    const first = found.entries[0]?.offset;
    if (state && state.epoch === epoch && first !== undefined && first <= state.last + 1) {
      deliverEntries(room, state, found.entries);
    }
    const since = spec.ms === undefined ? -Infinity : Date.now() - spec.ms;
    let chosen = found.entries.filter(
      (entry) =>
        entry.time >= since && !entry.except?.some((name) => name === socket.id || socket.rooms.has(name)),
    );
    if (spec.count !== undefined) chosen = chosen.slice(-spec.count);
    return chosen.map((entry) => ({
      room,
      position: { epoch, offset: entry.offset },
      event: entry.event,
      args: decodeArgs(entry.args, entry.bin),
    }));
  }

  async function rewind(
    socket: Socket,
    positions: readonly HistoryPosition[],
    rooms: readonly string[],
    spec: RewindSpec,
  ): Promise<void> {
    // Held from now: anything delivered to this room (or any other) waits until the rewind went out.
    delivery.hold(socket, new Map());
    const given = skips.get(socket.id) ?? new Map<string, HistoryPosition>();
    skips.set(socket.id, given);
    // Up to where this node stands in each room now (at least the join's position): all older messages
    // come from the history, all newer ones live.
    const upTo = rooms.map((room, i) => {
      const { epoch, offset } = positions[i]!;
      const state = followed.get(room);
      const at = { epoch, offset: state && state.epoch === epoch ? Math.max(state.last, offset) : offset };
      given.set(room, at);
      return at;
    });
    try {
      const reads = await Promise.all(
        rooms.map((room, i) =>
          rewindRoom(socket, room, upTo[i]!, spec).catch((err: unknown) => {
            logger.warn({ err, room, clientId: socket.id }, 'reading a room history to rewind failed');
            return [];
          }),
        ),
      );
      for (const message of reads.flat()) send(socket, message);
    } finally {
      for (const message of delivery.release(socket)) send(socket, message);
    }
  }

  const delivery: RoomDelivery = {
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
      if (!socket || !cmd.rewind) return;
      // Rooms that had no history when joined (epoch '') have nothing to rewind.
      const rewound = (cmd.positions ?? []).filter(([room, epoch]) => epoch !== '' && socket.rooms.has(room));
      if (rewound.length === 0) return;
      void rewind(
        socket,
        rewound.map(([, epoch, offset]) => ({ epoch, offset })),
        rewound.map(([room]) => room),
        cmd.rewind,
      );
    },
    hold(socket, positions) {
      const open = holds.get(socket.id) ?? 0;
      holds.set(socket.id, open + 1);
      if (open === 0) {
        held.set(socket.id, []);
        void socket.join(HOLD_ROOM);
      }
      for (const [room, position] of positions) {
        if (followed.has(room) || !socket.rooms.has(room)) continue;
        const floor = floors.get(room);
        const lower = !floor || (floor.epoch === position.epoch && position.offset < floor.offset);
        // Claims in different epochs: '' (no history yet) waits for the most.
        if (lower || position.epoch === '') floors.set(room, position);
      }
    },
    release(socket) {
      const open = holds.get(socket.id);
      if (open === undefined) return [];
      if (open > 1) {
        holds.set(socket.id, open - 1);
        return [];
      }
      const messages = held.get(socket.id) ?? [];
      const given = skips.get(socket.id);
      drop(socket);
      if (!given) return messages;
      return messages.filter(({ room, position }) => {
        const upTo = given.get(room);
        return !upTo || upTo.epoch !== position.epoch || position.offset > upTo.offset;
      });
    },
    drop,
    send,
    rewind,
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
  return delivery;
}
