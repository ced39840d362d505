import type { Logger, RoutingTable } from '@iocluster/shared';
import type { Server } from 'socket.io';
import { INTERNAL_ROOM_PREFIX } from './room-delivery.js';

/**
 * This node's share of the routing table (see `RoutingTable` in shared): it counts its members of every
 * room in Redis, so app-nodes send room commands only to nodes with members.
 *
 * Changes are netted per turn of the event loop and written in order, one write at a time; a write that
 * fails is kept and retried, and once Redis answers again the node raises each of its counts to at
 * least its real member count (a failed write may or may not have been applied, and only too low a
 * count loses messages).
 */
export interface RoomRouting {
  /** A socket joined a room (the adapter's `join-room`). */
  joined(room: string, socketId: string): void;
  /** A socket left a room (the adapter's `leave-room`). */
  left(room: string, socketId: string): void;
  /** A `join` command was applied to these rooms: its pending count, added by the app-node, is used up. */
  joinApplied(rooms: readonly string[]): void;
  /** Writes every local count again, raised to at least the members this node holds. */
  reassert(): void;
  /** Resolves once every change so far is written (or failed). */
  flushed(): Promise<void>;
  close(): Promise<void>;
}

const RETRY_DELAY_MS = 500;

export function createRoomRouting(
  io: Server,
  nodeId: string,
  routing: RoutingTable,
  logger: Logger,
): RoomRouting {
  const { adapter } = io.of('/');
  let pending = new Map<string, number>();
  let writing: Promise<void> | undefined;
  let scheduled = false;
  let failed = false;
  let closed = false;

  const add = (room: string, delta: number) => {
    pending.set(room, (pending.get(room) ?? 0) + delta);
    schedule();
  };
  // A socket's own room (its id) is not a room anyone emits to by name here: per-socket commands go to
  // the node that holds it directly.
  const routed = (room: string, id: string) => room !== id && !room.startsWith(INTERNAL_ROOM_PREFIX);
  const onJoin = (room: string, id: string) => {
    if (routed(room, id)) add(room, 1);
  };
  const onLeave = (room: string, id: string) => {
    if (routed(room, id)) add(room, -1);
  };

  function schedule(): void {
    if (scheduled || writing || closed) return;
    scheduled = true;
    setImmediate(write);
  }

  function write(): void {
    scheduled = false;
    if (writing || pending.size === 0) return;
    const deltas = pending;
    pending = new Map();
    writing = routing
      .adjust(nodeId, deltas)
      .then(
        () => {
          if (failed) {
            failed = false;
            logger.info('room routing writable again; reasserting this node’s rooms');
            reassert();
          }
        },
        async (err: unknown) => {
          if (!failed) logger.warn({ err, rooms: deltas.size }, 'room routing update failed; retrying');
          failed = true;
          // Put the changes back in front of anything newer, so they are retried in order.
          for (const [room, delta] of pending) deltas.set(room, (deltas.get(room) ?? 0) + delta);
          pending = deltas;
          await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS).unref());
        },
      )
      .finally(() => {
        writing = undefined;
        if (pending.size > 0 && !closed) schedule();
      });
  }

  function reassert(): void {
    const counts = new Map<string, number>();
    for (const [room, members] of adapter.rooms) {
      // Skip each socket's own room (its only member is itself) and the node's bookkeeping rooms.
      if ((members.size === 1 && members.has(room)) || room.startsWith(INTERNAL_ROOM_PREFIX)) continue;
      counts.set(room, members.size);
    }
    routing.raise(nodeId, counts).catch((err: unknown) => {
      logger.warn({ err }, 'reasserting room routing failed; retrying');
      if (!closed) setTimeout(reassert, RETRY_DELAY_MS).unref();
    });
  }

  return {
    joined: onJoin,
    left: onLeave,
    joinApplied(rooms) {
      for (const room of rooms) add(room, -1);
    },
    reassert,
    async flushed() {
      while (writing || pending.size > 0) {
        if (!writing) write();
        await writing;
        if (failed) return;
      }
    },
    async close() {
      closed = true;
      await writing;
    },
  };
}
