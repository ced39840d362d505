import { WireError } from '../errors.js';
import { nonEmptyString, object, string } from './check.js';

/** The app-node event raised when a room gets its first member anywhere in the cluster. */
export const OCCUPIED_EVENT = 'room:occupied';
/** The app-node event raised when a room loses its last member anywhere in the cluster. */
export const VACATED_EVENT = 'room:vacated';

/** Why a room's occupancy changed: its members joined or left, or a dead io-node's were purged. */
export type OccupancyReason = 'members' | 'purge';

/**
 * A room became occupied (its first member on any io-node) or vacated (its last one left, or the io-node
 * holding the last ones died). Decided once, in Redis, by the script that changed the room's per-node
 * member counts; the io-node that ran it enqueues it for app-nodes.
 */
export interface OccupancyChange {
  /** Unique per change (io-node id and a counter): a job run again repeats it with the same id. */
  id: string;
  type: 'occupied' | 'vacated';
  room: string;
  /** The io-node that decided it (the one whose members changed, or the purger of a dead one). */
  nodeId: string;
  reason: OccupancyReason;
  /** When it was decided, ms since epoch (the deciding io-node's clock). */
  time: number;
}

export function decodeOccupancyChange(value: unknown, path: string): OccupancyChange {
  const v = object(value, path);
  if (v.type !== 'occupied' && v.type !== 'vacated') {
    throw new WireError(`${path}.type must be occupied or vacated`);
  }
  if (v.reason !== 'members' && v.reason !== 'purge') {
    throw new WireError(`${path}.reason must be members or purge`);
  }
  if (typeof v.time !== 'number' || !Number.isFinite(v.time)) {
    throw new WireError(`${path}.time must be a number`);
  }
  return {
    id: nonEmptyString(v.id, `${path}.id`),
    type: v.type,
    room: string(v.room, `${path}.room`),
    nodeId: nonEmptyString(v.nodeId, `${path}.nodeId`),
    reason: v.reason,
    time: v.time,
  };
}
