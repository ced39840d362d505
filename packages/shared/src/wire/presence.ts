import { WireError } from '../errors.js';
import { isPlainObject, nonEmptyString, object, string } from './check.js';

/** A small JSON object the application attaches to a connection's presence (a nickname, a status...). */
export type PresenceMeta = Record<string, unknown>;

/** Longest `meta` (as JSON) a presence join may carry: it is copied into every event and roster read. */
export const PRESENCE_META_MAX_BYTES = 2_048;

/** Event an app-node emits to a room's members when a member joined or left, and its hook's name. */
export const PRESENCE_EVENT = 'presence';

/** Why a member left: its last connection left the room, disconnected, or its io-node died. */
export type PresenceReason = 'join' | 'leave' | 'disconnect' | 'purge';
const REASONS: readonly PresenceReason[] = ['join', 'leave', 'disconnect', 'purge'];

/**
 * A member's first connection joined a room (`joined`) or its last one left (`left`). Decided once, in
 * Redis, by the script that changed the roster; an io-node then enqueues it for app-nodes.
 */
export interface PresenceChange {
  /** Unique per change (io-node id and a counter): a job run again repeats it with the same id. */
  id: string;
  type: 'joined' | 'left';
  room: string;
  /** The member: its user's id, or the socket id of an anonymous connection (see `presenceMemberId`). */
  memberId: string;
  /** The `meta` of the connection that joined first / left last. */
  meta: PresenceMeta;
  /** That connection's socket id and io-node. */
  socketId: string;
  nodeId: string;
  reason: PresenceReason;
}

/**
 * The identity of an authenticated user: its `id` (or JWT-style `sub`) when the io-node's `authenticate`
 * hook (or the JWT claims) gave an object with a non-empty string or finite number one, the user itself
 * when it is a non-empty string, else undefined (anonymous).
 */
export function userIdOf(user: unknown): string | undefined {
  if (typeof user === 'string' && user.length > 0) return user;
  if (isPlainObject(user)) {
    for (const field of ['id', 'sub'] as const) {
      const value = user[field];
      if (typeof value === 'string' && value.length > 0) return value;
      if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    }
  }
  return undefined;
}

/**
 * Who a connection is in presence rosters: its user's {@link userIdOf}, else the socket id (every
 * anonymous connection is a member of its own).
 */
export function presenceMemberId(user: unknown, socketId: string): string {
  return userIdOf(user) ?? socketId;
}

/** Validates presence meta: a plain JSON object of at most {@link PRESENCE_META_MAX_BYTES}. */
export function checkPresenceMeta(value: unknown, path: string): PresenceMeta {
  if (!isPlainObject(value)) throw new WireError(`${path} must be a plain object`);
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch (cause) {
    throw new WireError(`${path} must be JSON-serialisable`, { cause });
  }
  if (Buffer.byteLength(json) > PRESENCE_META_MAX_BYTES) {
    throw new WireError(`${path} is larger than ${PRESENCE_META_MAX_BYTES} bytes as JSON`);
  }
  return value;
}

export function decodePresenceChange(value: unknown, path: string): PresenceChange {
  const v = object(value, path);
  if (v.type !== 'joined' && v.type !== 'left') throw new WireError(`${path}.type must be joined or left`);
  if (!REASONS.includes(v.reason as PresenceReason)) {
    throw new WireError(`${path}.reason must be one of ${REASONS.join(', ')}`);
  }
  return {
    id: nonEmptyString(v.id, `${path}.id`),
    type: v.type,
    room: string(v.room, `${path}.room`),
    memberId: nonEmptyString(v.memberId, `${path}.memberId`),
    meta: checkPresenceMeta(v.meta, `${path}.meta`),
    socketId: nonEmptyString(v.socketId, `${path}.socketId`),
    nodeId: nonEmptyString(v.nodeId, `${path}.nodeId`),
    reason: v.reason as PresenceReason,
  };
}
