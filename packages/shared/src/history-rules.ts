import { type HistoryLimits, matchRooms, type RoomHistory } from './history.js';
import type { HistoryPosition } from './wire/commands.js';
import { decodeArgs } from './wire/values.js';

/**
 * Which rooms keep history, and how much: `AppNodeOptions.history`, `EmitterOptions.history`. Every
 * process that emits to rooms (app-nodes, emitters, the frontend's HTTP API) must use the same rule: a
 * room emit is recorded, and given its position, only by a sender that knows the room keeps history.
 */
export interface HistoryOptions {
  /**
   * Rooms whose messages are kept: globs (`chat:*`), RegExps, or a predicate. @defaultValue none
   */
  rooms?: readonly (string | RegExp)[] | ((room: string) => boolean);
  /** Messages kept per room (approximately). @defaultValue 1000 */
  maxLength?: number;
  /** Messages older than this are dropped; a quiet room's history expires this long after its last one. @defaultValue 300000 */
  ttlMs?: number;
}

/** One message of a room's history as applications see it. */
export interface HistoryMessage {
  offset: number;
  event: string;
  args: unknown[];
  /** When it was emitted, ms since epoch. */
  time: number;
}

/** What a history read returns. */
export interface HistoryPage {
  /** Where the room stands now (null: no history). Give it back as `since` to read on from here. */
  position: HistoryPosition | null;
  messages: HistoryMessage[];
  /** With `since`: false when messages after it were lost (trimmed, expired, or another epoch). */
  complete: boolean;
}

/** A read of a room's history: the newest `limit` messages, or those after `since`. */
export interface HistoryReadOptions {
  since?: HistoryPosition;
  /** @defaultValue 100, at most 1000 */
  limit?: number;
}

/** The rule of {@link HistoryOptions} and reads of what it kept. */
export interface HistoryRules {
  readonly keeps: (room: string) => boolean;
  /** Adds rooms that keep history (globs or RegExps), besides `HistoryOptions.rooms`. */
  keep(patterns: readonly (string | RegExp)[]): void;
  readonly limits: HistoryLimits;
  read(room: string, options?: HistoryReadOptions): Promise<HistoryPage>;
}

const DEFAULT_LIMIT = 100;
/** Most messages one read returns. */
export const HISTORY_READ_MAX = 1_000;

export function createHistoryRules(store: RoomHistory, options: HistoryOptions = {}): HistoryRules {
  const { rooms = [] } = options;
  const configured = typeof rooms === 'function' ? rooms : matchRooms(rooms);
  let added: (room: string) => boolean = () => false;
  const addedPatterns: (string | RegExp)[] = [];
  return {
    keeps: (room) => configured(room) || added(room),
    keep(patterns) {
      addedPatterns.push(...patterns);
      added = matchRooms(addedPatterns);
    },
    limits: { maxLength: options.maxLength ?? 1_000, ttlMs: options.ttlMs ?? 300_000 },
    async read(room, opts = {}) {
      const limit = Math.min(Math.max(1, Math.floor(opts.limit ?? DEFAULT_LIMIT)), HISTORY_READ_MAX);
      const found = await store.read(room, { since: opts.since, limit });
      return {
        position: found.position,
        complete: found.complete,
        messages: found.entries.map((e) => ({
          offset: e.offset,
          event: e.event,
          args: decodeArgs(e.args, e.bin),
          time: e.time,
        })),
      };
    },
  };
}
