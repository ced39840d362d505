import { randomBytes } from 'node:crypto';
import {
  decodeArgs,
  type HistoryPosition,
  type Logger,
  RECOVERED_EVENT,
  type RecoveryReport,
  type RoomHistory,
  SESSION_EVENT,
  userIdOf,
} from '@iocluster/shared';
import type { Socket } from 'socket.io';
import {
  CLIENT_ROOM,
  INTERNAL_ROOM_PREFIX,
  listedRoom,
  PLAIN_ROOM,
  type RoomDelivery,
} from './room-delivery.js';
import type { SessionRecord, SessionStore } from './sessions.js';

/** An event sent by `@iocluster/client` with its id, unwrapped. */
export interface IdentifiedEvent {
  eid: string;
  resent: boolean;
  name: unknown;
  args: unknown[];
}

/**
 * Connection state recovery across io-nodes for clients of `@iocluster/client` (they announce themselves
 * with `auth.iocluster` in the handshake): a session in Redis (rooms, data, user) that outlives the
 * connection by the recovery window, positions per room kept by the client, and a replay of the room
 * messages it missed, from the history, before any newer one.
 */
export interface ClientRecovery {
  /** Handshake step: reads the client's announcement and loads its session (after authentication). */
  handshake(socket: Socket, user: unknown): Promise<void>;
  /**
   * The socket is connected: tags it, restores rooms and data of a recovered session (synchronously, so
   * the `connect` event already carries them) and returns the previous socket id when it recovered.
   */
  connected(socket: Socket): { previousId: string } | undefined;
  /** Sends the messages a recovered socket missed, then the ones held meanwhile, then `$recovered`. */
  replay(socket: Socket): Promise<void>;
  /** The session id of a client of `@iocluster/client`. */
  sessionOf(socket: Socket): string | undefined;
  /** For a recovered socket: the socket id of its session's first connection. */
  originOf(socket: Socket): string | undefined;
  disconnected(socket: Socket, reason: string): void;
  /** Unwraps `$e`; null when the arguments are not an identified event. */
  unwrap(args: unknown[]): IdentifiedEvent | null;
}

interface Plan {
  sessionId: string;
  record: SessionRecord | null;
  /** Who the connecting client is now (the session keeps the latest, e.g. fresher JWT claims). */
  user: unknown;
  positions: Map<string, HistoryPosition>;
  /** Why an announced session could not be recovered. */
  refused?: string;
}

const SESSION_ID_RE = /^[A-Za-z0-9_-]{16,64}$/;
const MAX_POSITIONS = 10_000;
const MAX_REPLAY_PER_ROOM = 1_000;

export interface ClientRecoveryOptions {
  sessions: SessionStore;
  history: RoomHistory;
  delivery: RoomDelivery;
  nodeId: string;
  /** Resolves once this node's room memberships are in the routing table. */
  routingFlushed: () => Promise<void>;
  /** The socket's presence (room → meta), kept in its session. */
  presenceOf: (socket: Socket) => SessionRecord['presence'] | undefined;
  /** Puts a recovered socket back in the rosters it was in. */
  restorePresence: (socket: Socket, presence: SessionRecord['presence']) => void;
  logger: Logger;
}

export function createClientRecovery(options: ClientRecoveryOptions): ClientRecovery {
  const { sessions, history, delivery, nodeId, logger } = options;
  const plans = new WeakMap<Socket, Plan>();

  const visibleRooms = (socket: Socket) => [...socket.rooms].filter((room) => listedRoom(room, socket.id));

  function readPositions(raw: unknown): Map<string, HistoryPosition> {
    const positions = new Map<string, HistoryPosition>();
    if (!Array.isArray(raw)) return positions;
    for (const item of raw.slice(0, MAX_POSITIONS)) {
      if (!Array.isArray(item)) continue;
      const [room, epoch, offset] = item as unknown[];
      if (typeof room !== 'string' || typeof epoch !== 'string' || !Number.isInteger(offset)) continue;
      if ((offset as number) < 0 || epoch.length > 64) continue;
      positions.set(room, { epoch, offset: offset as number });
    }
    return positions;
  }

  /** Replays what `socket` missed in one room; returns messages sent, complete, and where it stands now. */
  async function replayRoom(socket: Socket, room: string, since: HistoryPosition, previousId: string) {
    // Epoch '' is where a client stands in a room that had no history when it joined: all of it is newer.
    let current = since;
    if (since.epoch === '') {
      const [position] = await history.positions([room]);
      if (!position) return { sent: 0, complete: true, last: undefined };
      current = { epoch: position.epoch, offset: 0 };
    }
    const found = await delivery.readSince(room, current, MAX_REPLAY_PER_ROOM);
    let sent = 0;
    // Held messages up to here are ones the client has (or just got): release skips them.
    let last: HistoryPosition = current;
    for (const entry of found.entries) {
      last = { epoch: current.epoch, offset: entry.offset };
      if (entry.except?.some((name) => name === previousId || socket.rooms.has(name))) continue;
      delivery.send(socket, {
        room,
        position: last,
        event: entry.event,
        args: decodeArgs(entry.args, entry.bin),
      });
      sent++;
    }
    return { sent, complete: found.complete && !found.more, last };
  }

  return {
    async handshake(socket, user) {
      const announced = socket.handshake.auth?.iocluster as
        | { session?: unknown; positions?: unknown }
        | undefined;
      if (!announced || typeof announced !== 'object') return;
      const plan: Plan = {
        sessionId: randomBytes(18).toString('base64url'),
        record: null,
        user,
        positions: readPositions(announced.positions),
      };
      if (typeof announced.session === 'string' && SESSION_ID_RE.test(announced.session)) {
        const record = await sessions.load(announced.session);
        if (!record) plan.refused = 'expired';
        else if (identityOf(record.user) !== identityOf(user)) plan.refused = 'user-changed';
        else {
          plan.sessionId = announced.session;
          plan.record = record;
        }
      }
      plans.set(socket, plan);
    },

    connected(socket) {
      const plan = plans.get(socket);
      if (!plan) {
        void socket.join(PLAIN_ROOM);
        return undefined;
      }
      void socket.join(CLIENT_ROOM);
      const { record } = plan;
      if (record) {
        Object.assign(socket.data, record.data);
        delivery.hold(socket, plan.positions);
        void socket.join(record.rooms.filter((room) => !room.startsWith(INTERNAL_ROOM_PREFIX)));
        options.restorePresence(socket, record.presence);
      }
      const origin = record?.origin;
      sessions.open(plan.sessionId, socket.id, () => ({
        node: nodeId,
        socket: socket.id,
        origin: origin ?? socket.id,
        user: plan.user ?? null,
        rooms: visibleRooms(socket),
        data: socket.data as Record<string, unknown>,
        presence: options.presenceOf(socket) ?? {},
      }));
      socket.emit(SESSION_EVENT, plan.sessionId);
      return record ? { previousId: record.socket } : undefined;
    },

    async replay(socket) {
      const plan = plans.get(socket);
      if (!plan) return;
      const { record } = plan;
      if (!record) {
        if (plan.refused)
          socket.emit(RECOVERED_EVENT, { recovered: false, rooms: [], missed: 0, reason: plan.refused });
        return;
      }
      const report: RecoveryReport = { recovered: true, rooms: visibleRooms(socket), missed: 0 };
      const lastSent = new Map<string, HistoryPosition>();
      try {
        // Only once this node is routed the rooms' messages can the history read below miss nothing:
        // whatever is appended after it reaches this node live (and is held until we are done).
        await options.routingFlushed();
        for (const room of report.rooms) {
          const since = plan.positions.get(room);
          if (!since) continue;
          const { sent, complete, last } = await replayRoom(socket, room, since, record.socket);
          report.missed += sent;
          if (last) lastSent.set(room, last);
          if (!complete) {
            report.recovered = false;
            report.reason = 'history-lost';
          }
        }
      } catch (err) {
        logger.warn({ err, clientId: socket.id }, 'replaying missed messages failed');
        report.recovered = false;
        report.reason = 'history-lost';
      } finally {
        for (const message of delivery.release(socket)) {
          const last = lastSent.get(message.room);
          if (last && last.epoch === message.position.epoch && message.position.offset <= last.offset)
            continue;
          delivery.send(socket, message);
        }
      }
      if (socket.connected) socket.emit(RECOVERED_EVENT, report);
    },

    sessionOf: (socket) => plans.get(socket)?.sessionId,
    originOf: (socket) => plans.get(socket)?.record?.origin,

    disconnected(socket, reason) {
      const plan = plans.get(socket);
      if (!plan) return;
      delivery.drop(socket);
      // Leaving on purpose ends the session; anything else (network, server going away) keeps it.
      sessions.close(plan.sessionId, socket.id, reason === 'client namespace disconnect');
    },

    unwrap(args) {
      const [eid, resent, name, ...rest] = args;
      if (typeof eid !== 'string' || eid.length === 0 || eid.length > 128 || typeof resent !== 'boolean') {
        return null;
      }
      return { eid, resent, name, args: rest };
    },
  };
}

/**
 * Who a user is, for telling whether a returning client is the same one: its id or `sub` (JWT claims
 * change with every token — `iat`, `exp` — while the subject stays), else the whole value.
 */
function identityOf(user: unknown): string {
  const id = userIdOf(user);
  return id === undefined ? JSON.stringify(user ?? null) : `id:${id}`;
}
