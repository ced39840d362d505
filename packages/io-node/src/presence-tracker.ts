import {
  type PresenceChange,
  type PresenceMeta,
  type PresenceReason,
  type PresenceRemoval,
  type PresenceStore,
  presenceMemberId,
  type Repeating,
  repeat,
  settleWithin,
} from '@iocluster/shared';
import type { Server, Socket } from 'socket.io';
import { createChangeOutbox, type DeadNodeSweepOptions, retriedUntilClosed } from './change-outbox.js';

/**
 * This node's side of presence (rosters in Redis: see `PresenceStore` in shared). It writes the roster
 * entries of its own connections — a `join` command carrying `presence` adds them, leaving the room (a
 * `leave` command, a disconnect, anything that takes the socket out of the Socket.IO room) removes them —
 * and removes the entries of io-nodes that died. Whenever the store reports that a member's first
 * connection joined or its last one left, the change is enqueued as an ingress job for app-nodes, which
 * run the `presence` hooks and tell the room.
 *
 * Each connection's writes go to Redis one after another, in the order they happened here, and are
 * retried until Redis takes them (a write lost would leave a ghost member or a missing one). A dead
 * node's entries are removed by every live node that notices it: right away by the node that purged it
 * (`purgeNode` on `peer-expired`), and by a sweep every heartbeat on every node, which also finishes a
 * purge whose purger died half-way. Removal is idempotent, so racing purgers send each `left` once.
 */
export interface PresenceTracker {
  /** Removes what a previous life of this node id left behind, then sweeps dead peers' entries. */
  start(): Promise<void>;
  /** A `join` command with presence was applied: `socket` enters the rosters of those `rooms` it is in. */
  joined(socket: Socket, rooms: readonly string[], meta: PresenceMeta): void;
  /** The socket left a room (the adapter's `leave-room`): its roster entry there goes, if it had one. */
  left(room: string, socketId: string): void;
  /** The rooms this socket is in with presence, and its meta in each (for its recovery session). */
  snapshot(socketId: string): Record<string, PresenceMeta> | undefined;
  /**
   * A recovered socket is back in these rooms (already joined): it enters their rosters again with its
   * meta. Its member id is the same as before, so it stays one member (see docs/presence.md).
   */
  restore(socket: Socket, presence: Readonly<Record<string, PresenceMeta>>): void;
  /** Removes every roster entry of a dead io-node and enqueues the `left` changes it causes. */
  purgeNode(nodeId: string): Promise<void>;
  /** Writes every local entry again: after Redis lost data, or this node was purged by mistake. */
  reassert(): void;
  /** (room, connection) entries this node holds in rosters: the source of a presence gauge. */
  readonly entries: number;
  /** Resolves once every write and change so far is in Redis (or given up on while closing). */
  flushed(): Promise<void>;
  /**
   * Stops the sweep, waits up to `waitMs` for pending writes, then removes whatever entries of this node
   * are still in Redis (one attempt). Idempotent.
   */
  close(waitMs: number): Promise<void>;
}

export interface PresenceTrackerOptions extends DeadNodeSweepOptions {
  io: Server;
  nodeId: string;
  store: PresenceStore;
  /** What the `authenticate` hook returned for a socket (presence members are keyed by it). */
  userOf: (socket: Socket) => unknown;
  /** The id an anonymous socket is a member by (its session's first socket id, if it was recovered). */
  anonymousIdOf: (socket: Socket) => string;
}

export function createPresenceTracker(options: PresenceTrackerOptions): PresenceTracker {
  const { io, nodeId, store, logger } = options;
  const sockets = io.of('/').sockets;
  /** Socket id → room → meta, for every entry this node wrote or is about to write. */
  const local = new Map<string, Map<string, PresenceMeta>>();
  const disconnecting = new Set<string>();
  const chains = new Map<string, Promise<void>>();
  const purges = new Map<string, Promise<void>>();
  const outbox = createChangeOutbox<PresenceChange>({
    nodeId,
    job: (presence) => ({ presence }),
    enqueue: options.enqueue,
    what: 'presence',
    logger,
  });
  let entries = 0;
  let sweep: Repeating | undefined;
  let started = false;
  let closed = false;
  let closing: Promise<void> | undefined;

  /** Runs `op` until it succeeds (or the node closes), logging the first failure of a streak. */
  function retried<T>(what: string, op: () => Promise<T>): Promise<T | undefined> {
    return retriedUntilClosed(op, { what: `presence ${what}`, closed: () => closed, logger });
  }

  /** Queues a write for one connection behind its earlier ones. */
  function inOrder(socketId: string, op: () => Promise<void>): void {
    const chain = (chains.get(socketId) ?? Promise.resolve()).then(op);
    chains.set(socketId, chain);
    void chain.finally(() => {
      if (chains.get(socketId) === chain) chains.delete(socketId);
    });
  }

  function change(
    type: PresenceChange['type'],
    reason: PresenceReason,
    room: string,
    fields: {
      memberId: string;
      meta: PresenceMeta;
      socketId: string;
      nodeId: string;
    },
  ): void {
    outbox.push({ type, room, reason, ...fields });
  }

  function write(socket: Socket, room: string): void {
    const memberId = presenceMemberId(options.userOf(socket), options.anonymousIdOf(socket));
    inOrder(socket.id, async () => {
      // Left again before its turn came: the leave queued behind this has nothing to remove either.
      const meta = local.get(socket.id)?.get(room);
      if (meta === undefined) return;
      const first = await retried('join', () => store.join(room, socket.id, memberId, nodeId, meta));
      if (first) change('joined', 'join', room, { memberId, meta, socketId: socket.id, nodeId });
    });
  }

  function removed(removal: PresenceRemoval, reason: PresenceReason): void {
    if (!removal.last) return;
    const { room, memberId, connection } = removal;
    change('left', reason, room, {
      memberId,
      meta: connection.meta,
      socketId: connection.socketId,
      nodeId: connection.nodeId,
    });
  }

  const onLeave = (room: string, socketId: string) => {
    const rooms = local.get(socketId);
    if (!rooms?.delete(room)) return;
    entries--;
    if (rooms.size === 0) local.delete(socketId);
    const reason: PresenceReason = disconnecting.has(socketId) ? 'disconnect' : 'leave';
    inOrder(socketId, async () => {
      const removal = await retried('leave', () => store.leave(room, socketId, nodeId));
      if (removal) removed(removal, reason);
    });
  };

  const onConnection = (socket: Socket) => {
    // Socket.IO raises `disconnecting` before the socket leaves its rooms, `disconnect` after.
    socket.once('disconnecting', () => disconnecting.add(socket.id));
    socket.once('disconnect', () => disconnecting.delete(socket.id));
  };

  /** Enters `socket` in the rosters of those `rooms` it is in, with `metaOf(room)`. */
  function track(socket: Socket, rooms: readonly string[], metaOf: (room: string) => PresenceMeta): void {
    for (const room of rooms) {
      // Socket.IO applied the join just before (a socket that is disconnecting joins nothing).
      if (room === socket.id || !socket.rooms.has(room)) continue;
      const joined = local.get(socket.id) ?? new Map<string, PresenceMeta>();
      local.set(socket.id, joined);
      if (!joined.has(room)) entries++;
      joined.set(room, metaOf(room));
      write(socket, room);
    }
  }

  function purgeNode(dead: string): Promise<void> {
    const running = purges.get(dead);
    if (running) return running;
    const purge = (async () => {
      const removals = await retried('purge', () => store.purgeNode(dead));
      const reason: PresenceReason = dead === nodeId ? 'disconnect' : 'purge';
      for (const removal of removals ?? []) removed(removal, reason);
      const lefts = removals?.filter((r) => r.last).length ?? 0;
      if (removals && removals.length > 0) {
        logger.info(
          { purged: dead, connections: removals.length, lefts },
          'presence entries of io-node purged',
        );
      }
    })().finally(() => purges.delete(dead));
    purges.set(dead, purge);
    return purge;
  }

  async function sweepOnce(): Promise<void> {
    const [holders, isLive] = await Promise.all([store.nodes(), options.liveNodes()]);
    await Promise.all(holders.filter((id) => id !== nodeId && !isLive(id)).map((id) => purgeNode(id)));
  }

  return {
    async start() {
      started = true;
      await purgeNode(nodeId);
      io.on('connection', onConnection);
      sweep = repeat(
        options.sweepIntervalMs,
        async () => {
          if (!closed) await sweepOnce();
        },
        logger,
        'presence sweep failed; retrying',
      );
    },

    joined(socket, rooms, meta) {
      if (!closed) track(socket, rooms, () => meta);
    },

    left: onLeave,

    snapshot(socketId) {
      const rooms = local.get(socketId);
      return rooms ? Object.fromEntries(rooms) : undefined;
    },

    restore(socket, presence) {
      if (!closed) track(socket, Object.keys(presence), (room) => presence[room]!);
    },

    purgeNode,

    reassert() {
      for (const [socketId, rooms] of local) {
        const socket = sockets.get(socketId);
        if (socket) for (const room of rooms.keys()) write(socket, room);
      }
    },

    get entries() {
      return entries;
    },

    async flushed() {
      while (chains.size > 0 || purges.size > 0 || outbox.busy) {
        outbox.send();
        await Promise.allSettled([...chains.values(), ...purges.values(), outbox.settled()]);
      }
    },

    close(waitMs) {
      closing ??= (async () => {
        const sweeping = sweep?.stop();
        io.off('connection', onConnection);
        // Never started (the node closed while it waited for Redis): it wrote nothing to remove.
        if (!started) {
          closed = true;
          return;
        }
        await settleWithin(Promise.allSettled([sweeping, ...chains.values(), ...purges.values()]), waitMs);
        closed = true;
        // Anything a failed write left behind: nobody else would remove it while this node id is live.
        await purgeNode(nodeId);
        outbox.send();
        await outbox.settled();
      })();
      return closing;
    },
  };
}
