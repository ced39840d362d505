import {
  CHANNEL_ROOM_PREFIX,
  type OccupancyChange,
  type OccupancyReason,
  type OccupancyStore,
  type OccupancyTransition,
  RESERVED_PREFIX,
  type Repeating,
  repeat,
  settleWithin,
} from '@iocluster/shared';
import type { Server } from 'socket.io';
import {
  createChangeOutbox,
  type DeadNodeSweepOptions,
  retriedUntilClosed,
  retryPause,
} from './change-outbox.js';
import { INTERNAL_ROOM_PREFIX } from './room-delivery.js';

/**
 * This node's side of room occupancy (counts in Redis: see `OccupancyStore` in shared). For the rooms
 * chosen by `OCCUPANCY_ROOMS`, it writes how many members it holds, as an absolute count, whenever
 * sockets join or leave them (netted per turn of the event loop, one write at a time, retried until Redis
 * takes it); it removes the counts of io-nodes that died. Whenever the store reports that a room got its
 * first member in the cluster or lost its last one, the change is enqueued as an ingress job for
 * app-nodes, which run the `room:occupied` / `room:vacated` handlers.
 *
 * Not counted: a socket's own room, the node's bookkeeping rooms, and reserved rooms (names starting
 * with `$`, such as per-user rooms) other than client channels (`$ch:<channel>`).
 */
export interface RoomOccupancy {
  /** Removes what a previous life of this node id left behind, then sweeps dead peers' counts. */
  start(): Promise<void>;
  /** A socket joined a room (the adapter's `join-room`). */
  joined(room: string, socketId: string): void;
  /** A socket left a room (the adapter's `leave-room`). */
  left(room: string, socketId: string): void;
  /** Removes every count of a dead io-node and enqueues the `vacated` changes it causes. */
  purgeNode(nodeId: string): Promise<void>;
  /** Writes every local count again: after Redis lost data, or this node was purged by mistake. */
  reassert(): void;
  /** Resolves once every write and change so far is in Redis (or given up on while closing). */
  flushed(): Promise<void>;
  /** Stops the sweep, waits up to `waitMs` for pending writes, then removes this node's counts. Idempotent. */
  close(waitMs: number): Promise<void>;
}

export interface RoomOccupancyOptions extends DeadNodeSweepOptions {
  io: Server;
  nodeId: string;
  store: OccupancyStore;
  /** Which rooms are counted (`OCCUPANCY_ROOMS`). */
  counts: (room: string) => boolean;
}

/** Whether a room is one occupancy may count (before the configured patterns are asked). */
export function countableRoom(room: string, socketId: string): boolean {
  if (room === socketId || room.startsWith(INTERNAL_ROOM_PREFIX)) return false;
  return !room.startsWith(RESERVED_PREFIX) || room.startsWith(CHANNEL_ROOM_PREFIX);
}

export function createRoomOccupancy(options: RoomOccupancyOptions): RoomOccupancy {
  const { io, nodeId, store, logger } = options;
  const { adapter } = io.of('/');
  const decided = new Map<string, boolean>();
  /** Rooms whose count changed since the last write. */
  let dirty = new Set<string>();
  /** Rooms this node has a count in, written and indexed. */
  const indexed = new Set<string>();
  const purges = new Map<string, Promise<void>>();
  const outbox = createChangeOutbox<OccupancyChange>({
    nodeId,
    idTag: 'o',
    job: (occupancy) => ({ occupancy }),
    enqueue: options.enqueue,
    what: 'occupancy',
    logger,
  });
  let writing: Promise<void> | undefined;
  let scheduled = false;
  let failures = 0;
  let sweep: Repeating | undefined;
  let started = false;
  let closed = false;
  let closing: Promise<void> | undefined;

  const counted = (room: string, socketId: string) => {
    if (!countableRoom(room, socketId)) return false;
    let yes = decided.get(room);
    if (yes === undefined) {
      yes = options.counts(room);
      // Bounded: a node that sees millions of room names forgets the decisions now and then.
      if (decided.size >= 100_000) decided.clear();
      decided.set(room, yes);
    }
    return yes;
  };

  function change(type: OccupancyTransition, room: string, reason: OccupancyReason): void {
    outbox.push({ type, room, nodeId, reason, time: Date.now() });
  }

  function touch(room: string, socketId: string): void {
    if (closed || !counted(room, socketId)) return;
    dirty.add(room);
    schedule();
  }

  function schedule(): void {
    if (scheduled || writing) return;
    scheduled = true;
    setImmediate(write);
  }

  function write(): void {
    scheduled = false;
    if (writing || dirty.size === 0) return;
    const rooms = dirty;
    dirty = new Set();
    // Absolute counts, read now: whatever happened to a room since it was marked is in them.
    const counts = new Map<string, number>();
    for (const room of rooms) counts.set(room, adapter.rooms.get(room)?.size ?? 0);
    writing = store
      .set(nodeId, counts, (room) => indexed.has(room))
      .then(
        (transitions) => {
          failures = 0;
          for (const [room, n] of counts) {
            if (n > 0) indexed.add(room);
            else indexed.delete(room);
          }
          for (const [room, transition] of transitions) change(transition, room, 'members');
        },
        async (err: unknown) => {
          if (failures++ === 0) logger.warn({ err, rooms: rooms.size }, 'occupancy write failed; retrying');
          // Written again (absolute counts: a write applied after all changes nothing the second time).
          for (const room of rooms) dirty.add(room);
          await retryPause(failures - 1);
        },
      )
      .finally(() => {
        writing = undefined;
        if (dirty.size > 0 && !closed) schedule();
      });
  }

  function purgeNode(dead: string): Promise<void> {
    const running = purges.get(dead);
    if (running) return running;
    const purge = (async () => {
      const vacated = await retriedUntilClosed(() => store.purgeNode(dead), {
        what: 'occupancy purge',
        fields: { dead },
        closed: () => closed,
        logger,
      });
      for (const room of vacated ?? []) change('vacated', room, 'purge');
      if (vacated && vacated.length > 0)
        logger.info({ purged: dead, vacated: vacated.length }, 'occupancy purged');
    })().finally(() => purges.delete(dead));
    purges.set(dead, purge);
    return purge;
  }

  async function sweepOnce(): Promise<void> {
    const [holders, isLive] = await Promise.all([store.nodes(), options.liveNodes()]);
    await Promise.all(holders.filter((id) => id !== nodeId && !isLive(id)).map((id) => purgeNode(id)));
  }

  async function flushed(): Promise<void> {
    while (writing || dirty.size > 0 || purges.size > 0 || outbox.busy) {
      if (dirty.size > 0 && !writing) write();
      outbox.send();
      await Promise.allSettled([writing, ...purges.values(), outbox.settled()]);
      if (failures > 0 && closed) return;
    }
  }

  return {
    async start() {
      started = true;
      await purgeNode(nodeId);
      sweep = repeat(
        options.sweepIntervalMs,
        async () => {
          if (!closed) await sweepOnce();
        },
        logger,
        'occupancy sweep failed; retrying',
      );
    },
    joined: touch,
    left: touch,
    purgeNode,
    reassert() {
      indexed.clear();
      for (const [room, members] of adapter.rooms) {
        const [first] = members;
        if (first !== undefined && counted(room, members.size === 1 ? first : '')) dirty.add(room);
      }
      schedule();
    },
    flushed,
    close(waitMs) {
      closing ??= (async () => {
        const sweeping = sweep?.stop();
        if (!started) {
          closed = true;
          return;
        }
        await settleWithin(Promise.all([sweeping, flushed()]), waitMs);
        closed = true;
        // Whatever a failed write left behind: nobody else would remove it while this node id is live.
        await settleWithin(purgeNode(nodeId), waitMs);
        outbox.send();
        await outbox.settled();
      })();
      return closing;
    },
  };
}
