import { WireError } from '../errors.js';
import { nonEmptyString, object, storedCount, storedRate } from './check.js';

/**
 * One live io-node as the registry describes it. Written by the io-node itself on every heartbeat
 * (a Redis hash, `Keys.registryNode(nodeId)`, plus its member in the `Keys.registryIndex` sorted set,
 * scored by the ms epoch at which the record expires), read by the frontend and by other io-nodes.
 *
 * Times are the writer's wall clock: nodes are assumed to keep their clocks in sync (NTP) to well within
 * the heartbeat TTL.
 */
export interface IoNodeRecord {
  readonly nodeId: string;
  /** URL Socket.IO clients use to reach the node. */
  readonly url: string;
  /** Clients connected at the last heartbeat. */
  readonly connections: number;
  /** When the node started (ms since epoch). */
  readonly startedAt: number;
  /** The io-node package version the node runs. */
  readonly version: string;
  /** When the node last wrote its record (ms since epoch). */
  readonly lastSeen: number;
  /** Client events (connects and disconnects included) accepted per second over the last few seconds. */
  readonly eventsPerSecond: number;
}

/** The Redis hash fields of a record (every value a string, as HSET stores them). */
export function encodeIoNodeRecord(record: IoNodeRecord): Record<string, string> {
  return {
    nodeId: record.nodeId,
    url: record.url,
    connections: String(record.connections),
    startedAt: String(record.startedAt),
    version: record.version,
    lastSeen: String(record.lastSeen),
    eventsPerSecond: String(record.eventsPerSecond),
  };
}

const field = (name: string) => `io-node record field "${name}"`;

const count = (value: unknown, name: string) => storedCount(value, field(name));

/**
 * Validates the fields of a registry hash (as HGETALL returns them) or a parsed JSON object and returns
 * the record; throws a {@link WireError} naming the first bad field.
 */
export function decodeIoNodeRecord(fields: unknown): IoNodeRecord {
  const source = object(fields, 'io-node record');
  const url = nonEmptyString(source.url, field('url'));
  try {
    new URL(url);
  } catch (cause) {
    throw new WireError(`${field('url')} must be a URL, got "${url}"`, { cause });
  }
  return {
    nodeId: nonEmptyString(source.nodeId, field('nodeId')),
    url,
    connections: count(source.connections, 'connections'),
    startedAt: count(source.startedAt, 'startedAt'),
    version: nonEmptyString(source.version, field('version')),
    lastSeen: count(source.lastSeen, 'lastSeen'),
    // Absent from records written before it existed (a rolling upgrade): 0.
    eventsPerSecond: storedRate(source.eventsPerSecond ?? 0, field('eventsPerSecond')),
  };
}
