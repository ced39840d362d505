import { randomBytes } from 'node:crypto';
import type { HistoryEntry, RoomHistory } from '../history.js';
import type { HistoryPosition } from '../wire/commands.js';

interface RoomLog {
  epoch: string;
  offset: number;
  entries: HistoryEntry[];
  /** When the room's history expires (its last append plus the ttl), ms since epoch. */
  expiresAt: number;
}

/**
 * Room history in memory, with the Redis store's semantics: offsets contiguous from 1 within an epoch, a
 * history that expired starts a new epoch, entries older than the ttl or beyond the length are dropped.
 */
export function createMemoryRoomHistory(now: () => number = Date.now): RoomHistory {
  const rooms = new Map<string, RoomLog>();

  function current(room: string): RoomLog | undefined {
    const log = rooms.get(room);
    if (log && log.expiresAt <= now()) {
      rooms.delete(room);
      return undefined;
    }
    return log;
  }

  const positionOf = (log: RoomLog | undefined): HistoryPosition | null =>
    log ? { epoch: log.epoch, offset: log.offset } : null;

  return {
    async append(room, message, limits) {
      const time = now();
      let log = current(room);
      if (!log) {
        log = { epoch: randomBytes(6).toString('base64url'), offset: 0, entries: [], expiresAt: 0 };
        rooms.set(room, log);
      }
      log.offset += 1;
      const { event, args, bin, except } = structuredClone(message);
      const entry: HistoryEntry = { offset: log.offset, event, args, time };
      if (bin) entry.bin = bin;
      if (except?.length) entry.except = except;
      log.entries.push(entry);
      const cutoff = time - limits.ttlMs;
      const first = log.entries.findIndex((e) => e.time >= cutoff);
      log.entries.splice(0, Math.max(first, log.entries.length - limits.maxLength));
      log.expiresAt = time + limits.ttlMs;
      return { epoch: log.epoch, offset: log.offset };
    },

    async positions(list) {
      return list.map((room) => positionOf(current(room)));
    },

    async read(room, { since, until, limit }) {
      const log = current(room);
      const position = positionOf(log);
      const all = log?.entries ?? [];
      if (!since) {
        const upTo = until === undefined ? all : all.filter((e) => e.offset <= until);
        return { position, entries: structuredClone(upTo.slice(-limit)), complete: true, more: false };
      }
      if (!log || log.epoch !== since.epoch) return { position, entries: [], complete: false, more: false };
      const after = all.filter((e) => e.offset > since.offset);
      const more = after.length > limit;
      const entries = structuredClone(after.slice(0, limit));
      const complete =
        entries.length > 0 ? entries[0]!.offset === since.offset + 1 : log.offset <= since.offset;
      return { position, entries, complete, more };
    },
  };
}
