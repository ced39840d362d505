import { randomBytes } from 'node:crypto';
import type { Keys } from './keys.js';
import { loadLuaScript } from './lua-script.js';
import type { RedisConnection } from './redis.js';
import type { HistoryPosition } from './wire/commands.js';

/** One message of a room's history, as an app-node emitted it (arguments encoded as on the wire). */
export interface HistoryEntry {
  /** Position within the room's current epoch, from 1. */
  offset: number;
  event: string;
  args: unknown[];
  bin?: true;
  /** Rooms and socket ids the emit left out. */
  except?: string[];
  /** When it was appended, ms since epoch. */
  time: number;
}

/** What a read of a room's history found. */
export interface HistoryRead {
  /** The room's position now, or null when it has no history (never had, or it expired). */
  position: HistoryPosition | null;
  entries: HistoryEntry[];
  /**
   * With `since`: whether every message after `since` is still there (nothing trimmed, same epoch), up
   * to `limit`; `more` tells whether newer ones were left out by `limit`.
   */
  complete: boolean;
  more: boolean;
}

export interface HistoryLimits {
  /** Messages kept per room (approximately: Redis trims whole blocks). */
  maxLength: number;
  /** Messages older than this are trimmed, and a room's history expires this long after its last one. */
  ttlMs: number;
}

/**
 * Room history in Redis Streams: per room a stream whose entry ids are `0-<offset>` and a small hash
 * with the `epoch` and the last `offset`, under one hash tag. Appends are one Lua script, so offsets
 * are contiguous and a lost history (expired, flushed) starts a new epoch instead of reusing offsets.
 */
export interface RoomHistory {
  append(
    room: string,
    message: Omit<HistoryEntry, 'offset' | 'time'>,
    limits: HistoryLimits,
  ): Promise<HistoryPosition>;
  /** Positions of rooms (null for a room without history), in one round trip. */
  positions(rooms: readonly string[]): Promise<(HistoryPosition | null)[]>;
  /**
   * Reads messages after offset `since` (oldest first), or the newest `limit` when `since` is undefined
   * (the newest up to offset `until` when given: what a rewinding join reads). A `since` from another
   * epoch reads nothing and is not complete.
   */
  read(
    room: string,
    options: { since?: HistoryPosition; until?: number; limit: number },
  ): Promise<HistoryRead>;
}

const APPEND = loadLuaScript(import.meta.url, 'history-append');

type StreamEntry = [id: string, fields: string[]];

function toEntry([id, fields]: StreamEntry): HistoryEntry {
  const time = Number(fields[fields.indexOf('t') + 1]);
  const message = JSON.parse(fields[fields.indexOf('m') + 1] ?? '{}') as Omit<
    HistoryEntry,
    'offset' | 'time'
  >;
  return { ...message, offset: Number(id.slice(id.indexOf('-') + 1)), time };
}

function toPosition(fields: (string | null)[]): HistoryPosition | null {
  const [epoch, offset] = fields;
  return epoch ? { epoch, offset: Number(offset ?? 0) } : null;
}

export function createRoomHistory(redis: RedisConnection, keys: Keys): RoomHistory {
  return {
    async append(room, message, limits) {
      const { event, args, bin, except } = message;
      const body = JSON.stringify({
        event,
        args,
        ...(bin ? { bin } : {}),
        ...(except?.length ? { except } : {}),
      });
      const [epoch, offset] = (await APPEND.run(
        redis,
        [keys.history(room), keys.historyMeta(room)],
        [randomBytes(6).toString('base64url'), limits.maxLength, limits.ttlMs, Date.now(), body],
      )) as [string, number];
      return { epoch, offset: Number(offset) };
    },

    async positions(rooms) {
      const replies = await Promise.all(
        rooms.map((room) => redis.hmget(keys.historyMeta(room), 'epoch', 'offset')),
      );
      return replies.map(toPosition);
    },

    async read(room, { since, until, limit }) {
      const [meta, raw] = await Promise.all([
        redis.hmget(keys.historyMeta(room), 'epoch', 'offset'),
        since
          ? redis.xrange(keys.history(room), `(0-${since.offset}`, '+', 'COUNT', limit + 1)
          : redis.xrevrange(
              keys.history(room),
              until === undefined ? '+' : `0-${until}`,
              '-',
              'COUNT',
              limit,
            ),
      ]);
      const position = toPosition(meta);
      let entries = (raw as StreamEntry[]).map(toEntry);
      if (!since) return { position, entries: entries.reverse(), complete: true, more: false };
      if (!position || position.epoch !== since.epoch) {
        return { position, entries: [], complete: false, more: false };
      }
      const more = entries.length > limit;
      if (more) entries = entries.slice(0, limit);
      // Complete when the first message after `since` is there, or nothing came after it at all.
      const complete =
        entries.length > 0 ? entries[0]!.offset === since.offset + 1 : position.offset <= since.offset;
      return { position, entries, complete, more };
    },
  };
}

/**
 * A predicate over room names from patterns: a string is a glob where `*` matches any run of characters
 * (`chat:*`), a RegExp is used as it is. No patterns: no room matches.
 */
export function matchRooms(patterns: readonly (string | RegExp)[]): (room: string) => boolean {
  const regexps = patterns.map((p) =>
    typeof p === 'string'
      ? new RegExp(
          `^${p
            .split('*')
            .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
            .join('.*')}$`,
        )
      : p,
  );
  return (room) => regexps.some((re) => re.test(room));
}
