import { INGRESS_GROUP } from '../keys.js';
import type { RedisConnection } from '../redis.js';

/** What the ingress consumer group says of one partition's stream. */
export interface StreamGroupInfo {
  /** Entries not yet handed to any consumer (XINFO GROUPS `lag`; the stream's length when unknown). */
  lag: number;
  /** Entries handed to a consumer and not acknowledged yet (the group's pending list). */
  pending: number;
  /** The last entry handed out; `0-0` when none. */
  lastDeliveredId: string;
  /** Entries the group has read (XINFO GROUPS `entries-read`); null when Redis cannot tell. */
  entriesRead: number | null;
}

/** A flat `[name, value, name, value, ...]` reply as an object. */
function pairs(reply: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = reply[i + 1];
  return out;
}

/** Reads the ingress group of a stream; a stream or group that does not exist reads as its length. */
export async function readStreamGroup(redis: RedisConnection, stream: string): Promise<StreamGroupInfo> {
  let groups: unknown[][] = [];
  try {
    groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
  } catch (err) {
    if (!(err instanceof Error) || !/no such key/i.test(err.message)) throw err;
  }
  const group = groups.map(pairs).find((g) => g.name === INGRESS_GROUP);
  if (!group) return { lag: await redis.xlen(stream), pending: 0, lastDeliveredId: '0-0', entriesRead: 0 };
  const lag = typeof group.lag === 'number' ? group.lag : await redis.xlen(stream);
  const read = group['entries-read'];
  return {
    lag,
    pending: Number(group.pending ?? 0),
    lastDeliveredId: String(group['last-delivered-id'] ?? '0-0'),
    entriesRead: typeof read === 'number' ? read : null,
  };
}

/**
 * Creates the ingress consumer group on a stream (and the stream), reading from its first entry so
 * nothing added before the group existed is skipped; a group that exists is left as it is.
 */
export async function ensureStreamGroup(redis: RedisConnection, stream: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream, INGRESS_GROUP, '0', 'MKSTREAM');
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('BUSYGROUP')) throw err;
  }
}
