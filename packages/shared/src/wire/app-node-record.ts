import { WireError } from '../errors.js';
import { nonEmptyString, object, storedCount, storedRate, string } from './check.js';

/**
 * One live app-node as the registry describes it. Written by the app-node itself on every heartbeat (a
 * Redis hash, `Keys.appRegistryNode(nodeId)`, plus its member in the `Keys.appRegistryIndex` sorted set,
 * scored by the ms epoch at which the record expires), read by the frontend's admin view.
 *
 * Times are the writer's wall clock (see {@link IoNodeRecord}).
 */
export interface AppNodeRecord {
  readonly nodeId: string;
  /** Jobs the node runs at once. */
  readonly concurrency: number;
  /** Ingress jobs finished (completed or failed) per second over the last heartbeat interval. */
  readonly jobsPerSecond: number;
  /** Events (client events, connects, disconnects) handled per second over the last heartbeat interval. */
  readonly eventsPerSecond: number;
  /** When the node started (ms since epoch). */
  readonly startedAt: number;
  /** The app-node package version the node runs. */
  readonly version: string;
  /** When the node last wrote its record (ms since epoch). */
  readonly lastSeen: number;
  /** Where its `/metrics` is served; empty when it serves none (no `METRICS_PORT`). */
  readonly metricsUrl: string;
}

/** The Redis hash fields of a record (every value a string, as HSET stores them). */
export function encodeAppNodeRecord(record: AppNodeRecord): Record<string, string> {
  return {
    nodeId: record.nodeId,
    concurrency: String(record.concurrency),
    jobsPerSecond: String(record.jobsPerSecond),
    eventsPerSecond: String(record.eventsPerSecond),
    startedAt: String(record.startedAt),
    version: record.version,
    lastSeen: String(record.lastSeen),
    metricsUrl: record.metricsUrl,
  };
}

const field = (name: string) => `app-node record field "${name}"`;

/**
 * Validates the fields of a registry hash (as HGETALL returns them) or a parsed JSON object and returns
 * the record; throws a {@link WireError} naming the first bad field.
 */
export function decodeAppNodeRecord(fields: unknown): AppNodeRecord {
  const source = object(fields, 'app-node record');
  const metricsUrl = string(source.metricsUrl ?? '', field('metricsUrl'));
  if (metricsUrl !== '') {
    try {
      new URL(metricsUrl);
    } catch (cause) {
      throw new WireError(`${field('metricsUrl')} must be a URL or empty, got "${metricsUrl}"`, { cause });
    }
  }
  return {
    nodeId: nonEmptyString(source.nodeId, field('nodeId')),
    concurrency: storedCount(source.concurrency, field('concurrency')),
    jobsPerSecond: storedRate(source.jobsPerSecond, field('jobsPerSecond')),
    eventsPerSecond: storedRate(source.eventsPerSecond, field('eventsPerSecond')),
    startedAt: storedCount(source.startedAt, field('startedAt')),
    version: nonEmptyString(source.version, field('version')),
    lastSeen: storedCount(source.lastSeen, field('lastSeen')),
    metricsUrl,
  };
}
